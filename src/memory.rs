//! Giving memory back while the app sits idle.
//!
//! A tray app spends its life waiting. After start-up, and after each form closes, it still holds
//! pages it will not touch again for hours: the dynamic linker's symbol and relocation tables of
//! every library it loaded (WebKit's alone are several MB), code that ran once at start-up, and
//! heap the closed form freed. [`trim`] hands them back. On Windows it empties the working set
//! (`EmptyWorkingSet`, after `HeapCompact` of the process heap): every page leaves the process's
//! resident set for the standby or modified list, nothing is lost, and a page touched again comes
//! back with a soft fault. On Linux it is finer:
//!
//! - **Clean pages of read-only file mappings** (code, read-only data) are unmapped with
//!   `MADV_DONTNEED`. Their contents are the file's, so nothing is lost: they stay in the kernel's
//!   page cache, where they cost what any cached file costs (the kernel reclaims them under
//!   pressure), and touching one again maps it back with a minor fault. Only mappings that
//!   already existed when [`record_startup_mappings`] ran are considered: the program and the
//!   libraries loaded with it are never unloaded, so no other mapping can take their place
//!   while the trim runs.
//! - **Pages the process wrote are never touched**: `/proc/self/pagemap` tells a page still
//!   backed by the file from a copy-on-write copy (relocated read-only data, for example), and
//!   only the former are dropped. The mappings are read-only, so no write can make a copy
//!   between that reading and the `madvise`, short of a debugger writing into the code (a
//!   breakpoint set at that very moment could be lost).
//! - **Free heap**: `malloc_trim(0)` returns the allocator's free pages to the system.
//!
//! [`tune_allocator`] makes large buffers (screen frames, JPEGs) go straight to the system and back
//! when freed. glibc's default raises its mmap threshold after the first large free, so later
//! frames land in per-thread heaps whose free top is never returned: each form left ~10 MB behind.

/// What one [`trim`] gave back.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Trimmed {
    /// Clean file-backed pages unmapped (Linux), or the working set given back (Windows), in
    /// bytes.
    pub file_bytes: u64,
    /// How many mappings were looked at.
    pub mappings: usize,
}

/// Allocations at least this large are mapped on their own and unmapped when freed.
pub const MMAP_THRESHOLD: usize = 256 * 1024;
/// Free memory at the top of a heap beyond this goes back to the system at once.
pub const TRIM_THRESHOLD: usize = 1024 * 1024;

/// Fixes the allocator's thresholds ([`MMAP_THRESHOLD`], [`TRIM_THRESHOLD`]) for a long-running
/// process (glibc; elsewhere it does nothing). Call it first thing in `main`.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes the allocator's parameters; both values are in range.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD as libc::c_int);
    }
}

/// Remembers which read-only file mappings exist now; call it first thing in `main`, before any
/// thread starts. Only these are trimmed later.
pub fn record_startup_mappings() {
    #[cfg(target_os = "linux")]
    {
        let _ = linux::STARTUP.set(linux::Snapshot::take());
    }
}

/// Returns idle memory to the system (see the module documentation). Cheap (a few ms); safe at
/// any time, but meant for moments when nobody uses the app.
pub fn trim() -> std::io::Result<Trimmed> {
    #[cfg(target_os = "linux")]
    {
        // The heap first: it does not depend on /proc/self/pagemap being readable.
        linux::malloc_trim();
        match linux::STARTUP.get() {
            Some(snapshot) => linux::trim_since(snapshot),
            None => Ok(Trimmed::default()),
        }
    }
    #[cfg(windows)]
    {
        windows::trim()
    }
    #[cfg(not(any(target_os = "linux", windows)))]
    Ok(Trimmed::default())
}

#[cfg(windows)]
mod windows {
    use windows_sys::Win32::System::Memory::{GetProcessHeap, HeapCompact};
    use windows_sys::Win32::System::ProcessStatus::{
        K32EmptyWorkingSet, K32GetProcessMemoryInfo, PROCESS_MEMORY_COUNTERS,
    };
    use windows_sys::Win32::System::Threading::GetCurrentProcess;

    use super::Trimmed;

    fn working_set() -> Option<u64> {
        let mut counters = PROCESS_MEMORY_COUNTERS {
            cb: std::mem::size_of::<PROCESS_MEMORY_COUNTERS>() as u32,
            PageFaultCount: 0,
            PeakWorkingSetSize: 0,
            WorkingSetSize: 0,
            QuotaPeakPagedPoolUsage: 0,
            QuotaPagedPoolUsage: 0,
            QuotaPeakNonPagedPoolUsage: 0,
            QuotaNonPagedPoolUsage: 0,
            PagefileUsage: 0,
            PeakPagefileUsage: 0,
        };
        // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `counters` is
        // a properly sized, writable PROCESS_MEMORY_COUNTERS and `cb` says so.
        let ok =
            unsafe { K32GetProcessMemoryInfo(GetCurrentProcess(), &mut counters, counters.cb) };
        (ok != 0).then_some(counters.WorkingSetSize as u64)
    }

    pub fn trim() -> std::io::Result<Trimmed> {
        let before = working_set();
        // SAFETY: the process heap handle is valid for the life of the process; HeapCompact only
        // coalesces and decommits its free blocks. EmptyWorkingSet on the current process's
        // pseudo-handle only moves its pages out of the working set; their contents are kept.
        unsafe {
            HeapCompact(GetProcessHeap(), 0);
            if K32EmptyWorkingSet(GetCurrentProcess()) == 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        let released = match (before, working_set()) {
            (Some(b), Some(a)) => b.saturating_sub(a),
            _ => 0,
        };
        Ok(Trimmed {
            file_bytes: released,
            mappings: 0,
        })
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use std::collections::HashSet;
    use std::fs::File;
    use std::os::unix::fs::FileExt;
    use std::sync::OnceLock;

    use super::Trimmed;

    pub static STARTUP: OnceLock<Snapshot> = OnceLock::new();

    /// Present in RAM (pagemap bit 63).
    const PRESENT: u64 = 1 << 63;
    /// A page-cache page, not a private copy (pagemap bit 61).
    const FILE_PAGE: u64 = 1 << 61;
    /// pagemap entries read at once.
    const CHUNK: usize = 4096;

    /// A private, read-only, file-backed mapping from /proc/self/maps.
    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    pub struct Mapping {
        pub start: usize,
        pub end: usize,
        pub inode: u64,
        pub path: String,
    }

    /// The read-only file mappings that existed at one moment.
    #[derive(Debug, Default)]
    pub struct Snapshot(HashSet<Mapping>);

    impl Snapshot {
        pub fn take() -> Self {
            Self(read_only_file_mappings().into_iter().collect())
        }

        /// Only the mappings that lie in one of `ranges` (`[start, end)`).
        #[cfg(test)]
        fn within(self, ranges: &[(usize, usize)]) -> Self {
            Self(
                self.0
                    .into_iter()
                    .filter(|m| ranges.iter().any(|&(s, e)| m.start >= s && m.end <= e))
                    .collect(),
            )
        }
    }

    /// The lines of /proc/self/maps that are readable, not writable, private and backed by a
    /// regular file that still exists.
    pub fn read_only_file_mappings() -> Vec<Mapping> {
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        maps.lines().filter_map(parse_line).collect()
    }

    fn parse_line(line: &str) -> Option<Mapping> {
        // start-end perms offset dev inode path
        let mut fields = line.splitn(6, ' ');
        let (start, end) = fields.next()?.split_once('-')?;
        let perms = fields.next()?.as_bytes();
        let _offset = fields.next()?;
        let _dev = fields.next()?;
        let inode: u64 = fields.next()?.parse().ok()?;
        let path = fields.next()?.trim_start();
        let read_only_private =
            perms.len() == 4 && perms[0] == b'r' && perms[1] == b'-' && perms[3] == b'p';
        if !read_only_private
            || inode == 0
            || !path.starts_with('/')
            || path.starts_with("/dev/")
            || path.ends_with(" (deleted)")
        {
            return None;
        }
        Some(Mapping {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            inode,
            path: path.to_owned(),
        })
    }

    /// Unmaps the clean pages of the mappings that exist now and existed in `snapshot`.
    pub fn trim_since(snapshot: &Snapshot) -> std::io::Result<Trimmed> {
        let pagemap = File::open("/proc/self/pagemap")?;
        let page = page_size();
        let mut trimmed = Trimmed::default();
        for mapping in read_only_file_mappings() {
            if !snapshot.0.contains(&mapping) {
                continue;
            }
            trimmed.mappings += 1;
            trimmed.file_bytes += drop_clean_pages(&pagemap, &mapping, page)?;
        }
        Ok(trimmed)
    }

    /// `MADV_DONTNEED` on every run of present page-cache pages of `mapping`; returns the bytes.
    fn drop_clean_pages(pagemap: &File, mapping: &Mapping, page: usize) -> std::io::Result<u64> {
        let pages = (mapping.end - mapping.start) / page;
        let mut entries = vec![0u8; CHUNK * 8];
        let mut dropped = 0u64;
        let mut run: Option<(usize, usize)> = None; // first page, page count
        let mut flush = |run: &mut Option<(usize, usize)>| {
            if let Some((first, count)) = run.take() {
                let addr = mapping.start + first * page;
                let len = count * page;
                // SAFETY: the range lies inside a read-only private file mapping that has existed
                // since start-up and is never unmapped (the program and its start-up libraries
                // are not unloaded), and every page in it is a page-cache page, not a private
                // copy: dropping it loses nothing, the next access maps the file's page again.
                if unsafe { libc::madvise(addr as *mut libc::c_void, len, libc::MADV_DONTNEED) }
                    == 0
                {
                    dropped += len as u64;
                }
            }
        };
        let mut index = 0;
        while index < pages {
            let count = CHUNK.min(pages - index);
            let buf = &mut entries[..count * 8];
            let offset = ((mapping.start / page + index) * 8) as u64;
            pagemap.read_exact_at(buf, offset)?;
            for (i, raw) in buf.chunks_exact(8).enumerate() {
                let entry = u64::from_ne_bytes(raw.try_into().expect("8 bytes"));
                let clean = entry & PRESENT != 0 && entry & FILE_PAGE != 0;
                match (&mut run, clean) {
                    (Some((_, n)), true) => *n += 1,
                    (None, true) => run = Some((index + i, 1)),
                    (Some(_), false) => flush(&mut run),
                    (None, false) => {}
                }
            }
            index += count;
        }
        flush(&mut run);
        Ok(dropped)
    }

    fn page_size() -> usize {
        // SAFETY: sysconf has no preconditions.
        let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(size)
            .ok()
            .filter(|s| *s > 0)
            .unwrap_or(4096)
    }

    pub fn malloc_trim() {
        #[cfg(target_env = "gnu")]
        // SAFETY: malloc_trim only releases free memory of glibc's allocator.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Whether the page at `addr` is mapped in this process (pagemap's present bit).
    #[cfg(test)]
    pub fn is_present(addr: usize) -> bool {
        let page = page_size();
        let mut raw = [0u8; 8];
        File::open("/proc/self/pagemap")
            .and_then(|f| f.read_exact_at(&mut raw, (addr / page * 8) as u64))
            .expect("pagemap");
        u64::from_ne_bytes(raw) & PRESENT != 0
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use std::io::Write;

        /// A private mapping of a temporary file, unmapped on drop.
        struct Mapped {
            addr: *mut u8,
            len: usize,
            _file: tempfile::NamedTempFile,
        }

        impl Mapped {
            fn new(pages: usize, writable: bool) -> Self {
                let len = pages * page_size();
                let mut file = tempfile::NamedTempFile::new().unwrap();
                let content: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
                file.write_all(&content).unwrap();
                file.flush().unwrap();
                let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
                // SAFETY: a fresh private mapping of a file we own, unmapped in Drop.
                let addr = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        len,
                        prot,
                        libc::MAP_PRIVATE,
                        std::os::fd::AsRawFd::as_raw_fd(file.as_file()),
                        0,
                    )
                };
                assert_ne!(addr, libc::MAP_FAILED);
                Self {
                    addr: addr.cast(),
                    len,
                    _file: file,
                }
            }

            fn bytes(&self) -> &[u8] {
                // SAFETY: the mapping is readable and `len` long.
                unsafe { std::slice::from_raw_parts(self.addr, self.len) }
            }

            fn range(&self) -> (usize, usize) {
                (self.addr as usize, self.addr as usize + self.len)
            }

            fn page(&self, n: usize) -> usize {
                self.addr as usize + n * page_size()
            }

            fn expected(&self) -> Vec<u8> {
                (0..self.len).map(|i| (i % 251) as u8).collect()
            }
        }

        impl Drop for Mapped {
            fn drop(&mut self) {
                // SAFETY: unmaps exactly the mapping created in new().
                unsafe { libc::munmap(self.addr.cast(), self.len) };
            }
        }

        fn touch(m: &Mapped) -> u64 {
            m.bytes()
                .iter()
                .step_by(page_size())
                .map(|b| u64::from(*b))
                .sum()
        }

        #[test]
        fn clean_pages_of_a_startup_mapping_are_dropped_and_read_back_unchanged() {
            let m = Mapped::new(16, false);
            touch(&m);
            assert!((0..16).all(|p| is_present(m.page(p))));
            // Only this test's mapping: other tests of this binary may unmap theirs meanwhile.
            let snapshot = Snapshot::take().within(&[m.range()]);
            let trimmed = trim_since(&snapshot).unwrap();
            assert!(trimmed.file_bytes >= m.len as u64, "{trimmed:?}");
            assert!((0..16).all(|p| !is_present(m.page(p))));
            assert_eq!(m.bytes(), m.expected().as_slice());
        }

        #[test]
        fn written_pages_are_kept_and_later_mappings_are_left_alone() {
            // Like relocated read-only data: written, then made read-only.
            let relro = Mapped::new(8, true);
            touch(&relro);
            // SAFETY: page 3 lies inside the writable mapping.
            unsafe { *(relro.page(3) as *mut u8) = 0xEE };
            // SAFETY: the mapping is ours; read-only from now on.
            assert_eq!(
                unsafe { libc::mprotect(relro.addr.cast(), relro.len, libc::PROT_READ) },
                0
            );
            let snapshot = Snapshot::take();
            let later = Mapped::new(4, false);
            touch(&later);
            let snapshot = snapshot.within(&[relro.range(), later.range()]);

            trim_since(&snapshot).unwrap();

            assert!(
                is_present(relro.page(3)),
                "the written page must stay mapped"
            );
            assert!(!is_present(relro.page(2)), "a clean page is dropped");
            let mut expected = relro.expected();
            expected[3 * page_size()] = 0xEE;
            assert_eq!(relro.bytes(), expected.as_slice());
            assert!(
                (0..4).all(|p| is_present(later.page(p))),
                "a mapping made after the snapshot is not touched"
            );
        }

        #[test]
        fn writable_shared_and_anonymous_lines_are_not_candidates() {
            let line = |s: &str| parse_line(s).map(|m| m.path);
            assert_eq!(
                line("7f00-7f10 r-xp 00000000 fe:01 1234   /usr/lib/libgtk-3.so.0").as_deref(),
                Some("/usr/lib/libgtk-3.so.0")
            );
            assert!(line("7f00-7f10 rw-p 00000000 fe:01 1234   /usr/lib/libgtk-3.so.0").is_none());
            assert!(line("7f00-7f10 r--s 00000000 fe:01 1234   /usr/lib/x.cache").is_none());
            assert!(line("7f00-7f10 r--p 00000000 00:00 0      [vvar]").is_none());
            assert!(line("7f00-7f10 r--p 00000000 00:00 0 ").is_none());
            assert!(line("7f00-7f10 r--p 00000000 00:05 77     /dev/dri/card0").is_none());
            assert!(line("7f00-7f10 r-xp 00000000 fe:01 99     /usr/bin/app (deleted)").is_none());
        }
    }
}
