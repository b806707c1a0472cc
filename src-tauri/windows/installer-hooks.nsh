; Helpdesk Button: NSIS hooks for Tauri's installer template.
;
; Included by tauri.windows.conf.json (bundle > windows > nsis > installerHooks). Tauri 2 inserts
; each macro below, if defined, at a fixed point of its installer.nsi:
;   NSIS_HOOK_POSTINSTALL   end of the Install section: files, Tauri's registry keys and the
;                           shortcuts are in place
;   NSIS_HOOK_POSTUNINSTALL end of the Uninstall section, after the app's files, Tauri's keys
;                           and the shortcuts are gone
; The removal is a POST-uninstall hook rather than NSIS_HOOK_PREUNINSTALL on purpose: the
; pre-uninstall hook runs before the template checks whether the app is running, and an uninstall
; cancelled there ("Helpdesk Button is running") would leave the app without its link and
; autostart entry.
;
; The installer is per-machine (installMode "perMachine"): it runs elevated, as an administrator
; or as SYSTEM from an RMM, and Tauri's template has already selected the 64-bit registry view on
; x64. Everything here is machine-wide (HKLM), so one install serves every user of the PC.
;
; An update (the in-app updater, or a newer installer run over an older one) first runs the old
; uninstaller with /UPDATE and then this installer. The uninstall hook keeps the link handler and
; the autostart entry during an update ($UpdateMode = 1), so they never disappear, and the install
; hook rewrites them with the current path anyway.
;
; Keep this file ASCII: makensis reads it with the build machine's code page.

!define HDB_PROTOCOL "helpdesk-button"
!define HDB_RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define HDB_RUN_VALUE "HelpdeskButton"
!define HDB_POLICY_DIR_NAME "HelpdeskButton"
!define HDB_AUMID "com.helpdeskbutton.app"

!macro NSIS_HOOK_POSTINSTALL
  Push $0
  Push $1

  ; (a) The helpdesk-button:// link (helpdesk-button://new opens the form). The app receives the
  ; link as its first argument; a second launch hands it to the running instance.
  DetailPrint "Registering the ${HDB_PROTOCOL}:// link"
  WriteRegStr HKLM "Software\Classes\${HDB_PROTOCOL}" "" "URL:${PRODUCTNAME}"
  WriteRegStr HKLM "Software\Classes\${HDB_PROTOCOL}" "URL Protocol" ""
  WriteRegStr HKLM "Software\Classes\${HDB_PROTOCOL}\DefaultIcon" "" "$\"$INSTDIR\${MAINBINARYNAME}.exe$\",0"
  WriteRegStr HKLM "Software\Classes\${HDB_PROTOCOL}\shell\open\command" "" "$\"$INSTDIR\${MAINBINARYNAME}.exe$\" $\"%1$\""

  ; (a2) The app's name for Windows' notifications (its AppUserModelID is the identifier of
  ; tauri.conf.json): toasts of an unpackaged app show, and report their clicks, only for an ID
  ; Windows knows.
  WriteRegStr HKLM "Software\Classes\AppUserModelId\${HDB_AUMID}" "DisplayName" "${PRODUCTNAME}"

  ; (b) Start at every login, for every user. With no arguments the app starts in the tray.
  DetailPrint "Starting ${PRODUCTNAME} at every login"
  WriteRegStr HKLM "${HDB_RUN_KEY}" "${HDB_RUN_VALUE}" "$\"$INSTDIR\${MAINBINARYNAME}.exe$\""

  ; (c) The policy folder, %ProgramData%\HelpdeskButton (policy.toml goes there).
  ReadEnvStr $0 "PROGRAMDATA"
  ${If} $0 == ""
    ; SetShellVarContext all (per-machine) makes $APPDATA the ProgramData folder.
    StrCpy $0 "$APPDATA"
  ${EndIf}
  StrCpy $0 "$0\${HDB_POLICY_DIR_NAME}"
  ${IfNot} ${FileExists} "$0\*.*"
    DetailPrint "Creating the policy folder $0"
    CreateDirectory "$0"
  ${EndIf}
  ; ProgramData lets every user create files in new subfolders. The policy decides the admin
  ; password and the locked settings, so only Administrators and SYSTEM may write here; users
  ; (and the app) only read. Well-known SIDs, so it works on every Windows language.
  ; Runs on every install, so a folder created earlier by hand gets the same protection.
  nsExec::ExecToLog '"$SYSDIR\icacls.exe" "$0" /inheritance:r /grant:r *S-1-5-18:(OI)(CI)F *S-1-5-32-544:(OI)(CI)F *S-1-5-32-545:(OI)(CI)RX'
  Pop $1
  ${If} $1 != "0"
    DetailPrint "Could not restrict the policy folder's permissions (icacls: $1)"
  ${EndIf}

  ; A value or key that does not exist leaves the error flag set; the template reads that flag
  ; afterwards (the /R restart after an update), so leave it clear.
  ClearErrors
  Pop $1
  Pop $0
!macroend

!macro NSIS_HOOK_POSTUNINSTALL
  ${If} $UpdateMode <> 1
    Push $0

    ; (a) The link, only if it still points at this installation (another copy may own it now).
    ReadRegStr $0 HKLM "Software\Classes\${HDB_PROTOCOL}\shell\open\command" ""
    ${If} $0 == "$\"$INSTDIR\${MAINBINARYNAME}.exe$\" $\"%1$\""
      DetailPrint "Removing the ${HDB_PROTOCOL}:// link"
      DeleteRegKey HKLM "Software\Classes\${HDB_PROTOCOL}"
    ${EndIf}

    DeleteRegKey HKLM "Software\Classes\AppUserModelId\${HDB_AUMID}"

    ; (b) The autostart entry.
    DetailPrint "Removing the login autostart entry"
    DeleteRegValue HKLM "${HDB_RUN_KEY}" "${HDB_RUN_VALUE}"

    ; (c) The policy folder is kept on purpose: it belongs to the IT provider, and a reinstall
    ; must find the same policy (admin password, locked settings).

    ClearErrors
    Pop $0
  ${EndIf}
!macroend
