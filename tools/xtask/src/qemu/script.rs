//! Typing into a boot: bytes written to QEMU's serial input once the
//! serial log shows what they answer, as a user at the console would.

/// One thing to type: `send` once `after` appears in the serial log (after
/// the place where the previous step's text appeared).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputStep {
    pub after: &'static str,
    pub send: &'static [u8],
}

/// The steps of one boot and how far it got.
#[derive(Debug, Clone)]
pub struct Script {
    steps: &'static [InputStep],
    next: usize,
    /// Where in the log the search for the next step's text starts.
    searched_from: usize,
}

impl Script {
    pub fn new(steps: &'static [InputStep]) -> Self {
        Self {
            steps,
            next: 0,
            searched_from: 0,
        }
    }

    /// What to type now, given the serial log so far (cleaned text, which
    /// only grows): the bytes of every step whose text has appeared, in
    /// order.
    pub fn due(&mut self, log: &str) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(step) = self.steps.get(self.next) {
            let from = self.searched_from.min(log.len());
            let Some(at) = log.get(from..).and_then(|rest| rest.find(step.after)) else {
                break;
            };
            self.searched_from = from + at + step.after.len();
            self.next += 1;
            out.extend_from_slice(step.send);
        }
        out
    }

    /// Whether every step was typed.
    pub fn done(&self) -> bool {
        self.next >= self.steps.len()
    }

    /// The text the boot never showed, if it stopped early.
    pub fn waiting_for(&self) -> Option<&'static str> {
        self.steps.get(self.next).map(|step| step.after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STEPS: &[InputStep] = &[
        InputStep {
            after: "type a line:",
            send: b"hello\r",
        },
        InputStep {
            after: "type a line:",
            send: b"\x01x",
        },
    ];

    #[test]
    fn steps_wait_for_their_text_each_after_the_last() {
        let mut script = Script::new(STEPS);
        assert_eq!(script.due("booting\n"), b"");
        assert_eq!(script.waiting_for(), Some("type a line:"));
        assert_eq!(script.due("booting\ntype a line:"), b"hello\r");
        // The same prompt again is a new prompt only once it appears again.
        assert_eq!(script.due("booting\ntype a line:\necho: hello\n"), b"");
        assert!(!script.done());
        assert_eq!(
            script.due("booting\ntype a line:\necho: hello\ntype a line:"),
            b"\x01x"
        );
        assert!(script.done());
        assert_eq!(script.waiting_for(), None);
        assert_eq!(script.due("anything"), b"");
    }

    #[test]
    fn several_steps_can_fall_due_at_once() {
        let mut script = Script::new(STEPS);
        assert_eq!(
            script.due("type a line: type a line:"),
            b"hello\r\x01x".to_vec()
        );
        assert!(script.done());
    }

    #[test]
    fn no_steps_is_done_at_once() {
        let mut script = Script::new(&[]);
        assert!(script.done());
        assert_eq!(script.due("x"), b"");
    }
}
