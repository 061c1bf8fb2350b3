//! One run of the guest, as its steps in order: check the inputs and lay
//! out guest RAM before touching KVM (run/inputs.rs), set up and boot the
//! VM (run/machine.rs), attach the devices (run/attach.rs), run the vCPUs
//! to the end or the deadline (below), and gather what they saw into the
//! report (run/gather.rs). `run` is the sequence and nothing else.

mod attach;
mod gather;
mod inputs;
mod machine;

use std::io::Write;
use std::time::Instant;

use crate::observations::Observations;
use crate::ports::Ports;
use crate::{Config, Deadline, Error, Outcome, devices, gdb, kvmstats, vcpus, watchdog};
use gather::Ran;
use machine::Vcpus;

/// Map a KVM ioctl's error to the run's, naming the ioctl.
fn kvm_err(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> Error {
    move |source| Error::Kvm { what, source }
}

/// Boot the guest, run it to the end or to `deadline.guest()`, and report
/// what it did. Human output (the host line and the guest's console) goes
/// to `out`, which should give up by then too (a `sink::Sink`); `--run`
/// programs' own stdout and stderr go to `programs` when given (else they
/// are prefixed console lines on `out`).
pub fn run(
    cfg: &Config,
    deadline: &Deadline,
    mut out: Box<dyn Write + Send>,
    programs: Option<devices::console::ProgramIo>,
) -> Result<Outcome, Error> {
    let inputs = inputs::prepare(cfg)?;
    // Listen before anything runs: a port in use is a usage error.
    let listener = match &cfg.gdb {
        Some(l) => Some(gdb::conn::Listener::bind(l).map_err(Error::Usage)?),
        None => None,
    };
    let (m, mut cpus) = machine::boot(cfg, &inputs, &mut out)?;
    let pagemap = attach::pagemap(&m.ram);
    let ports = attach::ports(cfg, deadline, &m, pagemap.as_ref(), &inputs, out, programs);
    // Opened last, right before the first KVM_RUN: its first sample is
    // the run's zero.
    let sampler = attach::sampler(cfg, &m, &cpus);
    let mut ports = ports.with_kvm(sampler.at_exit());
    if let Some(l) = listener {
        ports = attach::debugger(cfg, deadline, &m, ports, l);
    }
    let (obs, ran) = run_vcpus(deadline, &mut cpus, sampler, ports)?;
    gather::report(cfg, &inputs, &m, pagemap.as_ref(), obs, ran)
}

/// Run every vCPU until the guest stops (or the watchdog stops it at
/// `deadline.guest()`), then collect what the ports and the sampler saw.
fn run_vcpus(
    deadline: &Deadline,
    cpus: &mut Vcpus,
    sampler: kvmstats::Sampler,
    mut ports: Ports<'_>,
) -> Result<(Observations, Ran), Error> {
    let dog = watchdog::Watchdog::start(deadline.guest()).map_err(Error::Watchdog)?;
    let t0 = Instant::now();
    let (stop, vcpu_stats) = vcpus::run(&mut cpus.bsp, &mut cpus.aps, &mut ports, &dog)?;
    ports.guest_ended(&stop);
    let run_time = t0.elapsed();
    drop(dog);
    let mut obs = ports.finish();
    obs.kvm = sampler.finish();
    Ok((
        obs,
        Ran {
            stop,
            vcpu_stats,
            t0,
            run_time,
        },
    ))
}
