#!/bin/sh
# L1's /init for `cargo xtask test --nested` (tools/xtask/src/nested):
# loads KVM with nested SVM, runs each system test's QEMU under it, and
# reports on the second serial port (ttyS1) in the format results.rs reads.
# Progress (test names, a dot whenever a test's serial log grows) goes to
# the console (ttyS0), which the host watches as well.
#
# /nested/plan.sh, written by xtask, defines STALL_SECONDS, LD_LIBRARY_PATH,
# load_modules (load_module calls) and run_tests (run_test calls, each after
# an input_steps call if the test types into the console).

/bin/busybox --install -s /bin
export PATH=/bin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /logs /tmp

stop() {
    sync
    poweroff -f
}

if ! exec 3>/dev/ttyS1; then
    echo "nested: no second serial port (ttyS1) for the reports"
    stop
fi
stty -F /dev/ttyS1 raw -echo 2>/dev/null

report() {
    echo "@@nested $*" >&3
}

fatal() {
    echo "nested: fatal: $*"
    report fatal "$*"
    stop
}

load_module() {
    file=$1
    shift
    insmod "$file" "$@" || fatal "insmod $file $* failed; the kernel said: $(dmesg | tail -n 3 | tr '\n' ' ')"
}

. /nested/plan.sh
export LD_LIBRARY_PATH

load_modules
nested=$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)
case "$nested" in
    1 | Y) ;;
    *) fatal "kvm_amd is not loaded with nested=1 (its nested parameter reads '$nested')" ;;
esac
[ -c /dev/kvm ] || fatal "kvm_amd is loaded but /dev/kvm is missing"
flags=$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' \
    | grep -E '^(svm|npt|nrip_save|decodeassists|flushbyasid|vmcb_clean|avic|v_vmsave_vmload|vgif)$' \
    | tr '\n' ' ')
for flag in svm npt; do
    case " $flags" in
        *" $flag "*) ;;
        *) fatal "L1's CPU lacks $flag (its SVM flags: $flags): KVM cannot give Tessera SVM with nested paging" ;;
    esac
done
report l1 "Linux $(uname -r), $(nproc) CPUs, kvm_amd nested=$nested, CPU flags: $flags"

# L1's KVM records what it does for Tessera's guests (each VMRUN Tessera
# makes with the event it injects, each exit it reflects with its
# EXITINTINFO, each interrupt KVM injects itself), so that a stall can say
# whether an event reached a guest that Tessera did not inject (dump_cpus).
TRACE=/sys/kernel/tracing
if mount -t tracefs tracefs $TRACE 2>/dev/null; then
    echo 4096 >$TRACE/buffer_size_kb
    for event in kvm_nested_vmenter kvm_nested_vmexit_inject kvm_inj_virq kvm_inj_exception kvm_nested_vmenter_failed; do
        echo 1 >$TRACE/events/kvm/$event/enable 2>/dev/null
    done
    echo 1 >$TRACE/tracing_on
fi

# watch_log PID LOG: prints a dot whenever LOG grows; if it does not grow for
# STALL_SECONDS, marks LOG stalled and kills PID.
watch_log() {
    last=0
    quiet=0
    while sleep 1; do
        size=$(stat -c %s "$2")
        if [ "$size" != "$last" ]; then
            last=$size
            quiet=0
            printf .
        else
            quiet=$((quiet + 1))
        fi
        if [ "$quiet" -ge "$STALL_SECONDS" ]; then
            : >"$2.stalled"
            dump_cpus "$2"
            kill -9 "$1"
            return
        fi
    done
}

# dump_cpus LOG: asks the stalled QEMU's monitor (the FIFOs $MONITOR.in and
# .out) for every vCPU's registers and appends them to LOG, so a stall says
# where each of Tessera's CPUs was when it stopped making progress.
dump_cpus() {
    {
        echo
        echo "nested: QEMU's vCPUs when the serial log stopped growing:"
        # Whatever the monitor printed at start (its banner) is drained
        # first, so what follows is the answer.
        timeout 1 cat "$MONITOR.out" >/dev/null
        echo "info registers -a" >"$MONITOR.in"
        # The monitor echoes the command with terminal escapes: dropped.
        timeout 3 cat "$MONITOR.out" | tr -d '\r' | grep -v "$(printf '\033')"
        # The last of L1's KVM events, without the ones every host tick
        # makes (Tessera's timer, vector 0x20, and its exits) and without
        # VMRUNs that inject nothing.
        echo "nested: L1's last KVM events (kvm_nested_vmenter, kvm_nested_vmexit_inject, kvm_inj_virq):"
        grep -v -e 'kvm_inj_virq: IRQ 0x20$' \
            -e 'reason: interrupt ext_inf1: 0x0000000000000000 ext_inf2: 0x0000000000000000 ext_int: 0x00000000 ' \
            -e 'event_inj: 0x00000000 ' "$TRACE/trace" 2>&1 | tail -n 5000
    } >>"$1" 2>&1
}

# input_steps: what the next run_test types into its QEMU's standard input
# (COM1), read from standard input as pairs of lines: the text to wait for,
# then the bytes to send as printf escapes.
INPUT_STEPS=/tmp/input-steps
input_steps() {
    cat >"$INPUT_STEPS"
}

# type_input LOG: for each step, waits until its text appears in LOG past
# where the previous step's text was seen, then sends its bytes to fd 4.
type_input() {
    from=0
    while IFS= read -r after && IFS= read -r send; do
        until tail -c +$((from + 1)) "$1" 2>/dev/null | grep -qF -- "$after"; do
            sleep 1
        done
        from=$(stat -c %s "$1")
        # shellcheck disable=SC2059 # the bytes are printf escapes
        printf "$send" >&4
    done <"$INPUT_STEPS"
}

# run_test NAME SERIAL_LOG DIR COMMAND...: runs COMMAND in DIR (a QEMU that
# writes COM1 to SERIAL_LOG and finds its -initrd modules in DIR), while
# watch_log stops it if SERIAL_LOG stops growing. After input_steps, the
# QEMU's standard input is a FIFO that type_input writes.
run_test() {
    name=$1
    log=$2
    shift 2
    index=$((index + 1))
    # After a reset of L1 the host boots it again with nested_skip=N (an
    # unknown kernel parameter, so an environment variable of /init): the
    # first N tests have been judged.
    [ "$index" -le "${nested_skip:-0}" ] && return
    report start "$name"
    rm -f "$log" "$log.stderr" "$log.stalled"
    : >"$log"
    printf 'nested: %s ' "$name"
    dir=$1
    shift
    rm -f "$MONITOR.in" "$MONITOR.out" "$log.in"
    mkfifo "$MONITOR.in" "$MONITOR.out"
    input=/dev/null
    [ -s "$INPUT_STEPS" ] && mkfifo "$log.in" && input=$log.in
    (cd "$dir" && exec "$@" -chardev "pipe,id=stall-monitor,path=$MONITOR" \
        -mon chardev=stall-monitor,mode=readline) <"$input" >/dev/null 2>"$log.stderr" &
    qemu=$!
    typist=
    if [ "$input" != /dev/null ]; then
        exec 4>"$input"
        type_input "$log" &
        typist=$!
    fi
    watch_log "$qemu" "$log" &
    watcher=$!
    wait "$qemu"
    status=$?
    kill "$watcher" $typist 2>/dev/null
    wait "$watcher" $typist 2>/dev/null
    if [ -n "$typist" ]; then
        exec 4>&-
        rm -f "$log.in"
    fi
    rm -f "$INPUT_STEPS"
    report begin "$name"
    report serial
    base64 "$log" >&3
    report stderr
    base64 "$log.stderr" >&3
    if [ -e "$log.stalled" ]; then
        echo " stalled"
        report end "$name" stalled "$STALL_SECONDS"
    else
        echo " exit $status"
        report end "$name" exit "$status"
    fi
    rm -f "$log" "$log.stderr" "$log.stalled"
}

# The monitor of the QEMU that runs now (see dump_cpus).
MONITOR=/tmp/monitor
index=0
run_tests
report done
stop
