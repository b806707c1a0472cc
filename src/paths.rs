//! Where the app keeps its files, and how they are written.
//!
//! One directory override (`--config-dir` or `HELPDESK_BUTTON_CONFIG_DIR`) moves everything the
//! app writes, so tests and the demo never touch the user's real settings. Nothing here knows
//! what the files contain.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The environment variable that overrides the config directory.
pub const CONFIG_DIR_ENV: &str = "HELPDESK_BUTTON_CONFIG_DIR";
const APP_DIR: &str = "helpdesk-button";

/// Errors finding or writing the app's files.
#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("this system has no per-user config directory; start the app with --config-dir DIR")]
    NoConfigDir,
    #[error("could not write {path}: {source}. Check that the folder exists and is writable.")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the test suites put the policy file. Only debug builds read it: a shipped (release)
/// binary reads the policy from the machine-wide path alone, so no user can point the app at a
/// policy of their own (no locks, no admin password, their own update key).
pub const TEST_POLICY_FILE_ENV: &str = "HELPDESK_BUTTON_TEST_POLICY_FILE";

/// The directories the app uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPaths {
    /// Settings and (when no keychain exists) the key file.
    pub config_dir: PathBuf,
    /// Drafts and the outbox.
    pub data_dir: PathBuf,
    /// The machine-wide managed policy (see [`crate::policy`]).
    pub policy_file: PathBuf,
}

/// Where fleets put the managed policy: `/etc/helpdesk-button/policy.toml` on Linux,
/// `%ProgramData%\HelpdeskButton\policy.toml` on Windows and
/// `/Library/Application Support/HelpdeskButton/policy.toml` on macOS.
pub fn default_policy_file() -> PathBuf {
    #[cfg(debug_assertions)]
    if let Some(p) = std::env::var_os(TEST_POLICY_FILE_ENV).filter(|v| !v.is_empty()) {
        return PathBuf::from(p);
    }
    machine_policy_file()
}

/// The machine-wide policy path of this OS, whatever the environment says.
pub fn machine_policy_file() -> PathBuf {
    #[cfg(windows)]
    return program_data().join("HelpdeskButton").join("policy.toml");
    #[cfg(target_os = "macos")]
    return PathBuf::from("/Library/Application Support/HelpdeskButton/policy.toml");
    #[cfg(not(any(windows, target_os = "macos")))]
    PathBuf::from("/etc/helpdesk-button/policy.toml")
}

/// The machine-wide ProgramData folder, from the shell's known-folder API: the `%ProgramData%`
/// variable is the user's to change, so it never decides where the policy is read from.
#[cfg(windows)]
#[allow(unsafe_code)]
fn program_data() -> PathBuf {
    use std::os::windows::ffi::OsStringExt as _;
    use windows_sys::Win32::System::Com::CoTaskMemFree;
    use windows_sys::Win32::UI::Shell::{
        FOLDERID_ProgramData, SHGetKnownFolderPath, KF_FLAG_DEFAULT,
    };
    let mut raw: windows_sys::core::PWSTR = std::ptr::null_mut();
    // SAFETY: the GUID is a static; a null token means "the current user"; on return `raw` is
    // either null or a NUL-terminated UTF-16 string the shell allocated, which is read up to its
    // NUL and then freed exactly once with CoTaskMemFree (which also accepts null).
    let found = unsafe {
        let hr = SHGetKnownFolderPath(
            &FOLDERID_ProgramData,
            KF_FLAG_DEFAULT as u32,
            std::ptr::null_mut(),
            &mut raw,
        );
        let path = (hr == 0 && !raw.is_null()).then(|| {
            let len = (0..).take_while(|&i| *raw.add(i) != 0).count();
            std::ffi::OsString::from_wide(std::slice::from_raw_parts(raw, len))
        });
        CoTaskMemFree(raw as *const core::ffi::c_void);
        path
    };
    found.map_or_else(|| PathBuf::from(r"C:\ProgramData"), PathBuf::from)
}

/// Windows: gives `path` a protected access list that lets only the current user in (full
/// control), dropping what it inherited from its folder (Administrators, SYSTEM, others). With
/// `inherit`, files and folders created in it later get the same (the outbox's `-wal` and
/// `-shm` files). Unix uses modes instead (0600, 0700).
///
/// # Errors
/// When the user's identity cannot be read or the list cannot be set.
#[cfg(windows)]
#[allow(unsafe_code)]
pub fn restrict_to_owner(path: &Path, inherit: bool) -> std::io::Result<()> {
    use std::os::windows::ffi::OsStrExt as _;
    use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, GENERIC_ALL, HANDLE};
    use windows_sys::Win32::Security::Authorization::{
        SetEntriesInAclW, SetNamedSecurityInfoW, EXPLICIT_ACCESS_W, NO_MULTIPLE_TRUSTEE,
        SET_ACCESS, SE_FILE_OBJECT, TRUSTEE_IS_SID, TRUSTEE_IS_USER, TRUSTEE_W,
    };
    use windows_sys::Win32::Security::{
        GetTokenInformation, TokenUser, ACL, DACL_SECURITY_INFORMATION, NO_INHERITANCE,
        PROTECTED_DACL_SECURITY_INFORMATION, SUB_CONTAINERS_AND_OBJECTS_INHERIT, TOKEN_QUERY,
        TOKEN_USER,
    };
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

    let os_error = std::io::Error::last_os_error;
    let mut token: HANDLE = std::ptr::null_mut();
    // SAFETY: the current process's pseudo-handle; `token` receives a handle closed below.
    if unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) } == 0 {
        return Err(os_error());
    }
    // TOKEN_USER and the SID it points to, in one buffer (u64s keep it aligned).
    let mut buffer = vec![0u64; 64];
    let mut needed = 0u32;
    // SAFETY: `buffer` is writable for the size given; `needed` receives the size used.
    let read = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast(),
            (buffer.len() * 8) as u32,
            &mut needed,
        )
    };
    // SAFETY: `token` is open and closed exactly once.
    unsafe { CloseHandle(token) };
    if read == 0 {
        return Err(os_error());
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER whose SID lies inside the buffer,
    // which outlives every use of it below.
    let sid = unsafe { (*buffer.as_ptr().cast::<TOKEN_USER>()).User.Sid };
    let access = EXPLICIT_ACCESS_W {
        grfAccessPermissions: GENERIC_ALL,
        grfAccessMode: SET_ACCESS,
        grfInheritance: if inherit {
            SUB_CONTAINERS_AND_OBJECTS_INHERIT
        } else {
            NO_INHERITANCE
        },
        Trustee: TRUSTEE_W {
            pMultipleTrustee: std::ptr::null_mut(),
            MultipleTrusteeOperation: NO_MULTIPLE_TRUSTEE,
            TrusteeForm: TRUSTEE_IS_SID,
            TrusteeType: TRUSTEE_IS_USER,
            ptstrName: sid.cast(),
        },
    };
    let mut acl: *mut ACL = std::ptr::null_mut();
    // SAFETY: one valid EXPLICIT_ACCESS_W, no old list; `acl` receives a LocalAlloc'ed list.
    let made = unsafe { SetEntriesInAclW(1, &access, std::ptr::null(), &mut acl) };
    if made != 0 {
        return Err(std::io::Error::from_raw_os_error(made as i32));
    }
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    // SAFETY: `wide` is a NUL-terminated path; only the (protected) DACL is set, from `acl`,
    // which is freed exactly once afterwards.
    let set = unsafe {
        let set = SetNamedSecurityInfoW(
            wide.as_ptr(),
            SE_FILE_OBJECT,
            DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            acl,
            std::ptr::null(),
        );
        LocalFree(acl.cast());
        set
    };
    if set != 0 {
        return Err(std::io::Error::from_raw_os_error(set as i32));
    }
    Ok(())
}

impl AppPaths {
    /// Resolves the directories: an explicit override first, then the environment variable, then
    /// the per-user config and data directories of the OS.
    ///
    /// # Errors
    /// [`PathsError::NoConfigDir`] when the OS reports no home directory and nothing overrides it.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, PathsError> {
        let overridden = explicit.map(Path::to_path_buf).or_else(|| {
            std::env::var_os(CONFIG_DIR_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        });
        if let Some(dir) = overridden {
            return Ok(Self::in_one_dir(dir));
        }
        let config = dirs::config_dir()
            .ok_or(PathsError::NoConfigDir)?
            .join(APP_DIR);
        let data = dirs::data_local_dir()
            .unwrap_or_else(|| config.clone())
            .join(APP_DIR);
        Ok(Self {
            config_dir: config,
            data_dir: data,
            policy_file: default_policy_file(),
        })
    }

    /// Everything in one directory (the override case); the policy stays machine-wide.
    pub fn in_one_dir(dir: PathBuf) -> Self {
        Self {
            data_dir: dir.clone(),
            config_dir: dir,
            policy_file: default_policy_file(),
        }
    }

    /// Everything in one directory, the policy file too (`DIR/policy.toml`): for tests and
    /// demos that must not read this machine's real policy. The app never builds its paths
    /// this way.
    pub fn isolated(dir: PathBuf) -> Self {
        Self {
            policy_file: dir.join("policy.toml"),
            data_dir: dir.clone(),
            config_dir: dir,
        }
    }

    /// The user settings file.
    pub fn settings_file(&self) -> PathBuf {
        self.config_dir.join("settings.toml")
    }

    /// The draft of the form being filled in.
    pub fn draft_file(&self) -> PathBuf {
        self.data_dir.join("draft.json")
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to disk,
/// then renamed over the target. On Unix the file gets `mode` (e.g. 0o600 for secrets).
///
/// # Errors
/// [`PathsError::Write`] naming the path when the directory cannot be created or written.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<(), PathsError> {
    let err = |source| PathsError::Write {
        path: path.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(err)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode.unwrap_or(0o644));
        }
        let mut file = options.open(&tmp)?;
        // A private file (the key's fallback, the device credential) is the user's alone on
        // Windows too, before it holds a byte.
        #[cfg(windows)]
        if mode.is_some_and(|m| m & 0o077 == 0) {
            restrict_to_owner(&tmp, false)?;
        }
        #[cfg(not(any(unix, windows)))]
        let _ = mode;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// Reads a file that may not exist yet.
///
/// # Errors
/// [`PathsError::Read`] for any failure other than "not found".
pub fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, PathsError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PathsError::Read {
            path: path.to_path_buf(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_dir_holds_config_and_data() {
        let paths = AppPaths::resolve(Some(Path::new("/tmp/x"))).unwrap();
        assert_eq!(paths.settings_file(), Path::new("/tmp/x/settings.toml"));
        assert_eq!(paths.draft_file(), Path::new("/tmp/x/draft.json"));
    }

    #[test]
    fn atomic_write_replaces_content_and_sets_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/file.txt");
        write_atomic(&path, b"one", Some(0o600)).unwrap();
        write_atomic(&path, b"two", Some(0o600)).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_optional(&dir.path().join("nope")).unwrap(), None);
    }
}
