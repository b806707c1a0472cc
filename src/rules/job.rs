//! Windows: the rules child runs in a Job Object, the OS's own backstop behind the child's
//! allocator limit and the parent's timer. The job caps the child's committed memory and CPU
//! time, lets it start no process of its own, and ends it if the parent dies (the job's handle
//! closes with the parent). On Linux the child is a plain process; its allocator and the
//! parent's kill on the deadline are the limits there.
#![allow(unsafe_code)]

use std::os::windows::io::AsRawHandle;
use std::time::Duration;

use windows_sys::Win32::Foundation::{CloseHandle, HANDLE};
use windows_sys::Win32::System::JobObjects::{
    AssignProcessToJobObject, CreateJobObjectW, JobObjectExtendedLimitInformation,
    SetInformationJobObject, JOBOBJECT_EXTENDED_LIMIT_INFORMATION, JOB_OBJECT_LIMIT_ACTIVE_PROCESS,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE, JOB_OBJECT_LIMIT_PROCESS_MEMORY,
    JOB_OBJECT_LIMIT_PROCESS_TIME,
};

/// A job the child is confined to; closing it (on drop) ends the child if it still runs.
pub(super) struct Job(HANDLE);

impl Drop for Job {
    fn drop(&mut self) {
        // SAFETY: the handle came from CreateJobObjectW and is closed once, here.
        unsafe {
            CloseHandle(self.0);
        }
    }
}

/// Puts `child` in a new job limited to `memory` bytes of committed memory and `cpu` of user
/// time, with no further processes.
///
/// # Errors
/// When the job cannot be created, limited or assigned.
pub(super) fn confine(
    child: &std::process::Child,
    memory: usize,
    cpu: Duration,
) -> std::io::Result<Job> {
    // SAFETY: null attributes and name are allowed (a default, unnamed job); a null handle is
    // failure and is checked.
    let handle = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
    if handle.is_null() {
        return Err(std::io::Error::last_os_error());
    }
    let job = Job(handle);
    // SAFETY: JOBOBJECT_EXTENDED_LIMIT_INFORMATION is plain data; all zeroes is "no limits".
    let mut info: JOBOBJECT_EXTENDED_LIMIT_INFORMATION = unsafe { std::mem::zeroed() };
    info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_PROCESS_MEMORY
        | JOB_OBJECT_LIMIT_PROCESS_TIME
        | JOB_OBJECT_LIMIT_ACTIVE_PROCESS
        | JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
    info.BasicLimitInformation.ActiveProcessLimit = 1;
    // In 100 ns units.
    info.BasicLimitInformation.PerProcessUserTimeLimit =
        i64::try_from(cpu.as_nanos() / 100).unwrap_or(i64::MAX);
    info.ProcessMemoryLimit = memory;
    // SAFETY: `info` is a valid JOBOBJECT_EXTENDED_LIMIT_INFORMATION of the size given, for the
    // information class that takes it; `job.0` is a live job handle.
    let set = unsafe {
        SetInformationJobObject(
            job.0,
            JobObjectExtendedLimitInformation,
            std::ptr::from_ref(&info).cast(),
            std::mem::size_of::<JOBOBJECT_EXTENDED_LIMIT_INFORMATION>() as u32,
        )
    };
    if set == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the child's handle is valid while `child` lives (it is borrowed for the call).
    let assigned = unsafe { AssignProcessToJobObject(job.0, child.as_raw_handle() as HANDLE) };
    if assigned == 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(job)
}
