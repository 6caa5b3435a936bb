//! [`Hv1Config`] as the words of `PartitionSetHv1` (`tessera_abi::vm::hv1`):
//! the manifest tool packs them, the kernel unpacks them, and the
//! partition manager passes them through untouched.
use tessera_abi::vm::hv1::WORDS;
use tlfs::cpuid::{
    HvFeatureIdentificationEcx, HvFeatureIdentificationEdx, HvHardwareFeaturesEax,
    HvImplementationRecommendationsEax,
};
use tlfs::privilege::HvPartitionPrivilegeMask;

use super::{Hv1Config, SystemIdentity, VendorId};

impl Hv1Config {
    /// The configuration as `PartitionSetHv1` carries it.
    pub fn to_words(&self) -> [u64; WORDS] {
        let vendor = self.vendor_id.0;
        let mut low = [0u8; 8];
        low.copy_from_slice(&vendor[..8]);
        let mut high = [0u8; 4];
        high.copy_from_slice(&vendor[8..]);
        let version = &self.version;
        [
            self.privileges.into_bits(),
            u64::from(self.features_ecx.into_bits())
                | u64::from(self.features_edx.into_bits()) << 32,
            u64::from(self.recommendations.into_bits()) | u64::from(self.spinlock_retries) << 32,
            u64::from_le_bytes(low),
            u64::from(u32::from_le_bytes(high)) | u64::from(self.max_virtual_processors) << 32,
            u64::from(self.hardware_features.into_bits())
                | u64::from(self.implemented_physical_address_bits) << 32,
            u64::from(version.build_number) | u64::from(version.service_pack) << 32,
            u64::from(version.major_version) << 48
                | u64::from(version.minor_version) << 32
                | u64::from(version.service_branch) << 24
                | u64::from(version.service_number & 0x00FF_FFFF),
        ]
    }

    /// The configuration `words` describe. Every bit pattern gives one;
    /// whether it is acceptable is [`Hv1Config::validate_implemented`]'s
    /// question. Fields the words do not carry keep their defaults.
    pub fn from_words(words: &[u64; WORDS]) -> Self {
        let mut vendor = [0u8; 12];
        vendor[..8].copy_from_slice(&words[3].to_le_bytes());
        vendor[8..].copy_from_slice(&(words[4] as u32).to_le_bytes());
        Self {
            vendor_id: VendorId(vendor),
            version: SystemIdentity {
                build_number: words[6] as u32,
                major_version: (words[7] >> 48) as u16,
                minor_version: (words[7] >> 32) as u16,
                service_pack: (words[6] >> 32) as u32,
                service_branch: (words[7] >> 24) as u8,
                service_number: (words[7] & 0x00FF_FFFF) as u32,
            },
            privileges: HvPartitionPrivilegeMask::from_bits(words[0]),
            features_ecx: HvFeatureIdentificationEcx::from_bits(words[1] as u32),
            features_edx: HvFeatureIdentificationEdx::from_bits((words[1] >> 32) as u32),
            recommendations: HvImplementationRecommendationsEax::from_bits(words[2] as u32),
            spinlock_retries: (words[2] >> 32) as u32,
            max_virtual_processors: (words[4] >> 32) as u32,
            hardware_features: HvHardwareFeaturesEax::from_bits(words[5] as u32),
            implemented_physical_address_bits: (words[5] >> 32) as u8,
            ..Self::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_configuration_round_trips() {
        for names in [
            "",
            "hv-relaxed,hv-vpindex,hv-runtime,hv-time,hv-reset,hv-crash,hv-tlbflush,hv-tlbflush-ext,hv-spinlocks=0x1fff,hv-vendor-id=Tessera,hv-version-id-build=7",
            "hv-crash,hv-vendor-id=Microsoft Hv",
        ] {
            let config = Hv1Config::from_feature_list(names).unwrap();
            assert_eq!(Hv1Config::from_words(&config.to_words()), config, "{names}");
        }
        assert_eq!(
            Hv1Config::from_words(&Hv1Config::default().to_words()),
            Hv1Config::default()
        );
    }
}
