//! The host probe: can we open /dev/kvm, and how does this host's KVM turn
//! guest-physical addresses into host-physical ones (EPT, NPT, shadow paging
//! or PVM)? Also whether the host is itself a VM, which changes what
//! "host-physical" means in every report.

use std::fs::{self, OpenOptions};
use std::io;
use std::os::fd::{FromRawFd, IntoRawFd};
use std::path::{Path, PathBuf};

use kvm_ioctls::Kvm;

/// The KVM API version every KVM since Linux 2.6.22 reports (KVM_API_VERSION).
const KVM_API_VERSION: i32 = 12;

const DEV_KVM: &str = "/dev/kvm";
const SYS_KVM_PVM: &str = "/sys/module/kvm_pvm";
const SYS_EPT: &str = "/sys/module/kvm_intel/parameters/ept";
const SYS_NPT: &str = "/sys/module/kvm_amd/parameters/npt";

/// Why the host probe failed.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No /dev/kvm: the kvm modules are not loaded, or virtualization is off.
    #[error(
        "/dev/kvm does not exist: KVM is not available on this host (load kvm_intel or kvm_amd, or enable virtualization in the firmware)"
    )]
    KvmMissing,
    /// /dev/kvm exists but this user may not open it.
    #[error(
        "cannot open /dev/kvm: permission denied: add your user to the 'kvm' group (sudo usermod -aG kvm $USER) and log in again"
    )]
    KvmPermission,
    /// Opening /dev/kvm failed for another reason.
    #[error("cannot open {path}: {source}")]
    KvmOpen {
        /// The device.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// KVM_GET_API_VERSION gave something other than 12.
    #[error("/dev/kvm speaks KVM API version {0}, but microvmm needs version 12")]
    ApiVersion(i32),
    /// None of the kvm_pvm, kvm_intel or kvm_amd sysfs entries says how GPAs
    /// are translated.
    #[error(
        "cannot tell how this host's KVM translates guest-physical addresses: none of {SYS_KVM_PVM}, {SYS_EPT} or {SYS_NPT} is present or readable"
    )]
    UnknownFlavour,
    /// A /proc or /sys file of the probe could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

/// How this host's KVM performs second-level address translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum Flavour {
    /// Intel VMX with Extended Page Tables.
    VmxEpt,
    /// AMD SVM with Nested Page Tables.
    SvmNpt,
    /// VMX or SVM with two-dimensional paging turned off: KVM shadows guest tables.
    Shadow,
    /// PVM: guest in hardware ring 3, KVM shadows guest tables.
    Pvm,
}

impl Flavour {
    /// The flavour's short name, as printed in the banner and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Flavour::VmxEpt => "vmx-ept",
            Flavour::SvmNpt => "svm-npt",
            Flavour::Shadow => "shadow",
            Flavour::Pvm => "pvm",
        }
    }

    /// What second-level translation really is on this flavour, in one or
    /// two sentences for the report.
    pub fn nested_paging_text(self) -> &'static str {
        match self {
            Flavour::VmxEpt => {
                "Intel EPT: on a TLB miss the CPU walks the guest's page tables and translates every guest-physical address it meets (each guest table entry's address and the final one) through the host's EPT tables, a two-dimensional walk of up to 24 memory references for 4-level guest and 4-level EPT tables."
            }
            Flavour::SvmNpt => {
                "AMD NPT: on a TLB miss the CPU walks the guest's page tables and translates every guest-physical address it meets (each guest table entry's address and the final one) through the host's nested page tables, a two-dimensional walk of up to 24 memory references for 4-level guest and 4-level nested tables."
            }
            Flavour::Shadow => {
                "Shadow paging (two-dimensional paging off): KVM builds shadow page tables that map guest-virtual straight to host-physical and the CPU walks only those, 4 memory references for 4-level tables. KVM keeps them in sync with the guest's own tables by write-protecting the guest's page-table pages and trapping CR3 writes and INVLPG."
            }
            Flavour::Pvm => {
                "PVM: the guest kernel and its processes run in hardware ring 3 under shadow paging: KVM builds shadow page tables that map guest-virtual straight to host-physical and the CPU walks only those, 4 memory references for 4-level tables, kept in sync by write-protecting the guest's page-table pages."
            }
        }
    }
}

/// What the probe reads from /sys/module, as contents, so the decision is a
/// pure function that tests can feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysfsView {
    /// /sys/module/kvm_pvm exists (the PVM module is loaded).
    pub kvm_pvm: bool,
    /// Contents of /sys/module/kvm_intel/parameters/ept, if readable.
    pub ept: Option<String>,
    /// Contents of /sys/module/kvm_amd/parameters/npt, if readable.
    pub npt: Option<String>,
}

impl SysfsView {
    /// Read the three sysfs entries of this host; a missing file is `None`.
    pub fn read() -> SysfsView {
        SysfsView {
            kvm_pvm: Path::new(SYS_KVM_PVM).exists(),
            ept: fs::read_to_string(SYS_EPT).ok(),
            npt: fs::read_to_string(SYS_NPT).ok(),
        }
    }
}

/// A module boolean parameter: the kernel prints "Y"/"N"; older kernels
/// (and int parameters) print "1"/"0". Anything else is not understood.
fn param_on(text: &str) -> Option<bool> {
    match text.trim() {
        "Y" | "y" | "1" => Some(true),
        "N" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Decide the KVM flavour from sysfs contents: PVM if kvm_pvm is loaded,
/// else EPT/NPT when enabled, shadow paging when the loaded one is off.
/// `None` when nothing readable says which.
pub fn flavour_from(sysfs: &SysfsView) -> Option<Flavour> {
    // kvm_pvm can be loaded beside kvm_intel/kvm_amd; when it is, /dev/kvm
    // belongs to it, so it wins.
    if sysfs.kvm_pvm {
        return Some(Flavour::Pvm);
    }
    let ept = sysfs.ept.as_deref().and_then(param_on);
    let npt = sysfs.npt.as_deref().and_then(param_on);
    match (ept, npt) {
        (Some(true), _) => Some(Flavour::VmxEpt),
        (_, Some(true)) => Some(Flavour::SvmNpt),
        (Some(false), _) | (_, Some(false)) => Some(Flavour::Shadow),
        (None, None) => None,
    }
}

/// What the probe found out about this host.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HostInfo {
    /// How KVM translates guest-physical addresses here.
    pub flavour: Flavour,
    /// `CPUID.1:ECX[31]`, the hypervisor bit: this host is itself a VM.
    pub nested: bool,
    /// The CPU model name from /proc/cpuinfo ("unknown" if it has none).
    pub cpu: String,
    /// The kernel release, as `uname -r` prints it.
    pub kernel: String,
    /// KVM_GET_API_VERSION (always 12: the probe refuses others).
    pub api_version: i32,
    /// Levels of the host's own page tables (5 with LA57, else 4): under
    /// EPT/NPT KVM's nested tables have as many.
    pub paging_levels: u32,
}

impl HostInfo {
    /// What a "host-physical address" in the report means on this host.
    pub fn hpa_meaning(&self) -> &'static str {
        if self.nested {
            "host-physical = the outer VM's guest-physical (this host is itself a VM)"
        } else {
            "host-physical = machine physical"
        }
    }

    /// The one-line host summary; scripts grep it, so its shape is fixed.
    pub fn banner(&self) -> String {
        let nested = if self.nested {
            "yes (this host is itself a VM)"
        } else {
            "no"
        };
        format!(
            "host: kvm flavour {}, nested {}, cpu {}, kernel {}",
            self.flavour.as_str(),
            nested,
            self.cpu,
            self.kernel
        )
    }
}

/// Open /dev/kvm and check it speaks API version 12, with an error that
/// says what to do when it is missing or not accessible.
pub fn open_kvm() -> Result<Kvm, HostError> {
    open_kvm_at(Path::new(DEV_KVM))
}

/// The error for looking at or opening `path`, with the hint that fits.
fn open_error(path: &Path, source: io::Error) -> HostError {
    match source.kind() {
        io::ErrorKind::NotFound => HostError::KvmMissing,
        io::ErrorKind::PermissionDenied => HostError::KvmPermission,
        _ => HostError::KvmOpen {
            path: path.to_path_buf(),
            source,
        },
    }
}

fn open_kvm_at(path: &Path) -> Result<Kvm, HostError> {
    // Look before opening: ENOENT from open() could also mean a missing
    // module behind an existing node, and the message should be exact.
    fs::metadata(path).map_err(|e| open_error(path, e))?;
    // std opens with O_CLOEXEC, as Kvm::new() does.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| open_error(path, e))?;
    // SAFETY: into_raw_fd hands over a valid, open descriptor that nothing
    // else owns, so Kvm becomes its sole owner and closes it on drop.
    let kvm = unsafe { Kvm::from_raw_fd(file.into_raw_fd()) };
    let version = kvm.get_api_version();
    if version != KVM_API_VERSION {
        return Err(HostError::ApiVersion(version));
    }
    Ok(kvm)
}

/// Probe the host behind `kvm`: flavour from sysfs, the hypervisor bit,
/// CPU model and kernel release. A host whose sysfs names no flavour is an
/// error rather than a guess: the report must not name the wrong hardware.
pub fn probe(kvm: &Kvm) -> Result<HostInfo, HostError> {
    let flavour = flavour_from(&SysfsView::read()).ok_or(HostError::UnknownFlavour)?;
    let cpuinfo = read("/proc/cpuinfo")?;
    let kernel = read("/proc/sys/kernel/osrelease")?.trim().to_string();
    Ok(HostInfo {
        flavour,
        nested: hypervisor_bit(),
        cpu: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".to_string()),
        kernel,
        api_version: kvm.get_api_version(),
        paging_levels: if has_flag(&cpuinfo, "la57") { 5 } else { 4 },
    })
}

fn read(path: &str) -> Result<String, HostError> {
    fs::read_to_string(path).map_err(|source| HostError::Read {
        path: PathBuf::from(path),
        source,
    })
}

/// Whether the first "flags" line of /proc/cpuinfo lists `flag`. Linux
/// clears la57 there unless it really runs on 5-level page tables.
fn has_flag(cpuinfo: &str, flag: &str) -> bool {
    cpuinfo
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key.trim() == "flags").then(|| value.split_whitespace().any(|f| f == flag))
        })
        .unwrap_or(false)
}

/// The first "model name" of /proc/cpuinfo, whitespace-trimmed.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_string())
    })
}

/// CPUID.1:ECX bit 31, which hypervisors set and bare metal leaves clear.
#[cfg(target_arch = "x86_64")]
fn hypervisor_bit() -> bool {
    let leaf1 = std::arch::x86_64::__cpuid(1);
    leaf1.ecx & (1 << 31) != 0
}

/// KVM on other architectures has no CPUID; Linux shows the same bit as the
/// "hypervisor" cpuinfo flag only on x86, so report bare metal.
#[cfg(not(target_arch = "x86_64"))]
fn hypervisor_bit() -> bool {
    false
}

#[cfg(test)]
mod tests;
