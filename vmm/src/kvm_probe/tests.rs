//! The probe's decisions, fed with sysfs and cpuinfo contents.
use super::*;

fn view(pvm: bool, ept: Option<&str>, npt: Option<&str>) -> SysfsView {
    SysfsView {
        kvm_pvm: pvm,
        ept: ept.map(str::to_string),
        npt: npt.map(str::to_string),
    }
}

#[test]
fn flavour_from_sysfs_contents() {
    assert_eq!(
        flavour_from(&view(false, Some("Y\n"), None)),
        Some(Flavour::VmxEpt)
    );
    assert_eq!(
        flavour_from(&view(false, Some("1\n"), None)),
        Some(Flavour::VmxEpt)
    );
    assert_eq!(
        flavour_from(&view(false, Some("N\n"), None)),
        Some(Flavour::Shadow)
    );
    assert_eq!(
        flavour_from(&view(false, None, Some("1\n"))),
        Some(Flavour::SvmNpt)
    );
    assert_eq!(
        flavour_from(&view(false, None, Some("Y"))),
        Some(Flavour::SvmNpt)
    );
    assert_eq!(
        flavour_from(&view(false, None, Some("0\n"))),
        Some(Flavour::Shadow)
    );
    assert_eq!(flavour_from(&view(false, None, None)), None);
    assert_eq!(flavour_from(&view(false, Some("maybe"), None)), None);
}

#[test]
fn pvm_wins() {
    assert_eq!(
        flavour_from(&view(true, Some("Y"), None)),
        Some(Flavour::Pvm)
    );
    assert_eq!(
        flavour_from(&view(true, None, Some("1"))),
        Some(Flavour::Pvm)
    );
    assert_eq!(flavour_from(&view(true, None, None)), Some(Flavour::Pvm));
}

#[test]
fn names_and_texts() {
    let all = [
        Flavour::VmxEpt,
        Flavour::SvmNpt,
        Flavour::Shadow,
        Flavour::Pvm,
    ];
    let names: Vec<_> = all.iter().map(|f| f.as_str()).collect();
    assert_eq!(names, ["vmx-ept", "svm-npt", "shadow", "pvm"]);
    assert!(Flavour::VmxEpt.nested_paging_text().contains("24"));
    assert!(Flavour::SvmNpt.nested_paging_text().contains("24"));
    assert!(
        Flavour::Shadow
            .nested_paging_text()
            .contains("write-protect")
    );
    assert!(Flavour::Pvm.nested_paging_text().contains("ring 3"));
}

fn info(nested: bool) -> HostInfo {
    HostInfo {
        flavour: Flavour::SvmNpt,
        nested,
        cpu: "AMD EPYC".to_string(),
        kernel: "6.1.0".to_string(),
        api_version: 12,
        paging_levels: 4,
    }
}

#[test]
fn banner_shape() {
    assert_eq!(
        info(true).banner(),
        "host: kvm flavour svm-npt, nested yes (this host is itself a VM), cpu AMD EPYC, kernel 6.1.0"
    );
    assert_eq!(
        info(false).banner(),
        "host: kvm flavour svm-npt, nested no, cpu AMD EPYC, kernel 6.1.0"
    );
    assert!(info(true).hpa_meaning().contains("outer VM"));
    assert_eq!(
        info(false).hpa_meaning(),
        "host-physical = machine physical"
    );
}

#[test]
fn la57_flag_from_cpuinfo() {
    let text = "processor\t: 0\nflags\t\t: fpu la57 pae\n\nprocessor\t: 1\nflags\t: fpu\n";
    assert!(has_flag(text, "la57"));
    assert!(!has_flag(text, "la5"));
    assert!(!has_flag("flags\t: fpu pae\n", "la57"));
    assert!(!has_flag("", "la57"));
}

#[test]
fn cpu_model_from_cpuinfo() {
    let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13 \nflags\t\t: fpu\n\nprocessor\t: 1\nmodel name\t: other\n";
    assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
    assert_eq!(cpu_model("processor : 0\n"), None);
}

#[test]
fn missing_device_says_so() {
    let err = open_kvm_at(Path::new("/nonexistent/kvm")).err();
    assert!(matches!(err, Some(HostError::KvmMissing)), "{err:?}");
    let text = HostError::KvmMissing.to_string();
    assert!(text.starts_with("/dev/kvm does not exist"));
}

#[test]
fn probe_this_host() {
    // Only where /dev/kvm exists (CI and development machines have it).
    if !Path::new(DEV_KVM).exists() {
        return;
    }
    let kvm = open_kvm();
    assert!(kvm.is_ok(), "{:?}", kvm.err());
    if let Ok(kvm) = kvm {
        let info = probe(&kvm);
        assert!(info.is_ok(), "{:?}", info.err());
        if let Ok(info) = info {
            assert_eq!(info.api_version, 12);
            assert!(info.banner().starts_with("host: kvm flavour "));
            assert!(!info.kernel.is_empty());
        }
    }
}

#[test]
fn not_a_kvm_device_is_an_error() {
    // /dev/null opens fine but the API-version ioctl fails (-1), so it
    // must be refused rather than taken for a KVM.
    let err = open_kvm_at(Path::new("/dev/null")).err();
    assert!(
        matches!(err, Some(HostError::ApiVersion(v)) if v != 12),
        "{err:?}"
    );
}
