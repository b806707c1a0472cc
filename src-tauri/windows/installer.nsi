; Helpdesk Button: the Windows installer built on Linux with Debian's makensis
; (src-tauri/scripts/windows-installer.sh). Tauri's own NSIS bundling cannot run there: it
; downloads its plugin DLL (nsis_tauri_utils) from GitHub and checks its SHA-1. This script does
; what Tauri's template does for this app, and includes the same hooks
; (windows/installer-hooks.nsh: the helpdesk-button:// link, autostart for every user, the
; policy folder), so a build on Windows with Tauri's bundler and this one set up the same PC.
;
;   setup.exe /S                      silent (RMM, Intune); needs administrator rights or SYSTEM
;   setup.exe /S /POLICY=C:\path\policy.toml
;                                     also places the fleet policy in %ProgramData%\HelpdeskButton
;   setup.exe /P /UPDATE /R /ARGS ... what the in-app updater runs (passive, restart the app)
;   setup.exe /S /D=C:\Apps\Helpdesk  another folder (/D must come last)
; Exit codes: 0 installed; 2 the /POLICY file is missing (nothing installed); 3 the policy could
; not be copied; 4 installed, but the WebView2 Runtime is missing (no window can open).
;   uninstall.exe /S                  silent uninstall; the policy folder stays
;
; makensis -DVERSION=1.2.0 -DSRCDIR=<folder with the .exe files> -DOUTFILE=<setup.exe>
; Keep this file ASCII.

Unicode true
; A 64-bit installer for a 64-bit app (and Wine's 64-bit prefix in the tests).
Target amd64-unicode
ManifestDPIAware true
; Test builds (-DFAST) trade size for time: zlib packs them in seconds, LZMA in minutes.
!ifdef FAST
  SetCompressor zlib
!else
  SetCompressor /SOLID lzma
!endif
RequestExecutionLevel admin

!ifndef VERSION
  !error "makensis -DVERSION=X.Y.Z"
!endif
!ifndef SRCDIR
  !error "makensis -DSRCDIR=<folder with helpdesk-button.exe>"
!endif
!ifndef OUTFILE
  !define OUTFILE "helpdesk-button_${VERSION}_x64-setup.exe"
!endif

!define PRODUCTNAME "Helpdesk Button"
!define MAINBINARYNAME "helpdesk-button"
!define PUBLISHER "Helpdesk Button"
!define UNINSTKEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${PRODUCTNAME}"

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "FileFunc.nsh"
!include "x64.nsh"

Name "${PRODUCTNAME}"
OutFile "${OUTFILE}"
InstallDir "$PROGRAMFILES64\${PRODUCTNAME}"
BrandingText "${PRODUCTNAME} ${VERSION}"
VIProductVersion "${VERSION}.0"
VIAddVersionKey "ProductName" "${PRODUCTNAME}"
VIAddVersionKey "FileDescription" "${PRODUCTNAME} installer"
VIAddVersionKey "FileVersion" "${VERSION}"
VIAddVersionKey "ProductVersion" "${VERSION}"
VIAddVersionKey "CompanyName" "${PUBLISHER}"
VIAddVersionKey "LegalCopyright" "${PUBLISHER}"

; 1 while an update replaces this version (the hooks keep the link and autostart then).
Var UpdateMode
; 1 when the updater asks for a passive install (progress only, no questions).
Var PassiveMode
Var PolicyFile

!include "installer-hooks.nsh"

!define MUI_ICON "../../icons/icon.ico"
!define MUI_UNICON "../../icons/icon.ico"
!define MUI_FINISHPAGE_RUN "$INSTDIR\${MAINBINARYNAME}.exe"
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipIfPassive
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_PAGE_CUSTOMFUNCTION_PRE SkipIfPassive
!insertmacro MUI_PAGE_FINISH
!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_LANGUAGE "English"

Function SkipIfPassive
  ${If} $PassiveMode = 1
    Abort
  ${EndIf}
FunctionEnd

Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP|MB_OK "${PRODUCTNAME} needs 64-bit Windows 10 or 11." /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64
  SetShellVarContext all
  StrCpy $UpdateMode 0
  StrCpy $PassiveMode 0
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/UPDATE" $R1
  ${IfNot} ${Errors}
    StrCpy $UpdateMode 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/P" $R1
  ${IfNot} ${Errors}
    StrCpy $PassiveMode 1
  ${EndIf}
  ClearErrors
  ${GetOptions} $R0 "/POLICY=" $PolicyFile
  ${If} ${Errors}
    StrCpy $PolicyFile ""
  ${ElseIfNot} ${FileExists} "$PolicyFile"
    MessageBox MB_ICONSTOP|MB_OK "The policy file $PolicyFile does not exist. Give the full path: /POLICY=C:\path\policy.toml" /SD IDOK
    SetErrorLevel 2
    Quit
  ${EndIf}
  ClearErrors
FunctionEnd

Section "Install"
  SetOutPath "$INSTDIR"
  ; A running copy holds its .exe open: close it first (it starts again at the next login, or
  ; right away with /R). Nothing typed is lost: the draft and the outbox are on disk.
  nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /F /T /IM ${MAINBINARYNAME}.exe'
  Pop $0
  File "${SRCDIR}/${MAINBINARYNAME}.exe"
  File "${SRCDIR}/${MAINBINARYNAME}-rules.exe"
  File "${SRCDIR}/WebView2Loader.dll"
  WriteUninstaller "$INSTDIR\uninstall.exe"

  CreateShortcut "$SMPROGRAMS\${PRODUCTNAME}.lnk" "$INSTDIR\${MAINBINARYNAME}.exe" "--new-ticket"

  WriteRegStr HKLM "${UNINSTKEY}" "DisplayName" "${PRODUCTNAME}"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINSTKEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINSTKEY}" "DisplayIcon" "$\"$INSTDIR\${MAINBINARYNAME}.exe$\""
  WriteRegStr HKLM "${UNINSTKEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINSTKEY}" "UninstallString" "$\"$INSTDIR\uninstall.exe$\""
  WriteRegStr HKLM "${UNINSTKEY}" "QuietUninstallString" "$\"$INSTDIR\uninstall.exe$\" /S"
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINSTKEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINSTKEY}" "EstimatedSize" "$0"

  ; The link, autostart and the policy folder (created and locked down to Administrators and
  ; SYSTEM for writing), shared with Tauri's template.
  !insertmacro NSIS_HOOK_POSTINSTALL

  ${If} $PolicyFile != ""
    ReadEnvStr $0 "PROGRAMDATA"
    ${If} $0 == ""
      StrCpy $0 "$APPDATA"
    ${EndIf}
    DetailPrint "Placing the policy $PolicyFile"
    ClearErrors
    CopyFiles /SILENT "$PolicyFile" "$0\${HDB_POLICY_DIR_NAME}\policy.toml"
    ${If} ${Errors}
      DetailPrint "Could not copy the policy to $0\${HDB_POLICY_DIR_NAME}\policy.toml"
      SetErrorLevel 3
    ${EndIf}
  ${EndIf}

  ; The form, the admin window and My tickets are WebView2 pages. Windows 11 ships the runtime
  ; and Edge brings it to most Windows 10 PCs; without it the tray, the hotkey's capture and the
  ; CLI work but no window opens. Exit code 4 tells the RMM to install Microsoft's Evergreen
  ; WebView2 Runtime (the app is installed either way).
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}" "pv"
  ${EndIf}
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    DetailPrint "The Microsoft Edge WebView2 Runtime is missing: install it, or no window of ${PRODUCTNAME} can open"
    MessageBox MB_ICONEXCLAMATION|MB_OK "${PRODUCTNAME} is installed, but this PC lacks the Microsoft Edge WebView2 Runtime, without which its windows cannot open. Install the Evergreen WebView2 Runtime from Microsoft." /SD IDOK
    SetErrorLevel 4
  ${EndIf}
  ClearErrors

  ; /R (the updater's "restart after install"): start the app again, as the user who ran it.
  ${GetParameters} $R0
  ClearErrors
  ${GetOptions} $R0 "/R" $R1
  ${IfNot} ${Errors}
    Exec '"$INSTDIR\${MAINBINARYNAME}.exe"'
  ${EndIf}
  ClearErrors
SectionEnd

Function un.onInit
  SetRegView 64
  SetShellVarContext all
  StrCpy $UpdateMode 0
  ${un.GetParameters} $R0
  ClearErrors
  ${un.GetOptions} $R0 "/UPDATE" $R1
  ${IfNot} ${Errors}
    StrCpy $UpdateMode 1
  ${EndIf}
  ClearErrors
FunctionEnd

Section "Uninstall"
  nsExec::ExecToLog '"$SYSDIR\taskkill.exe" /F /T /IM ${MAINBINARYNAME}.exe'
  Pop $0
  Delete "$INSTDIR\${MAINBINARYNAME}.exe"
  Delete "$INSTDIR\${MAINBINARYNAME}-rules.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  Delete "$SMPROGRAMS\${PRODUCTNAME}.lnk"
  DeleteRegKey HKLM "${UNINSTKEY}"
  ; The link and autostart go (not during an update); the policy folder stays.
  !insertmacro NSIS_HOOK_POSTUNINSTALL
SectionEnd
