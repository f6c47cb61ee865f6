; Inno Setup script for MedDiag Desktop (Windows, per-user install, no admin rights).
;
; Build on Windows (see installer/README.md):
;   .venv\Scripts\python -m PyInstaller --noconfirm --clean --distpath build\pyinstaller\dist ^
;       --workpath build\pyinstaller\work installer\meddiag.spec
;   iscc /DAppVersion=0.1.0 installer\windows\meddiag.iss
; Output: dist\meddiag-<version>-windows-x64-setup.exe
;
; Installs into %LOCALAPPDATA%\Programs\MedDiag Desktop, adds a Start menu entry, an optional
; desktop shortcut and an uninstaller (Settings > Apps). User data (%LOCALAPPDATA%\meddiag-desktop)
; is kept on uninstall.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define AppName "MedDiag Desktop"
#define AppExe "meddiag.exe"
; the PyInstaller one-folder output, relative to this file
#ifndef DistDir
  #define DistDir "..\..\build\pyinstaller\dist\meddiag"
#endif

[Setup]
AppId={{6C1B2E0A-5A77-4D43-9F3B-8E2D6B1E7C51}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=MedDiag Desktop team
DefaultDirName={localappdata}\Programs\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\..\dist
OutputBaseFilename=meddiag-{#AppVersion}-windows-x64-setup
SetupIconFile=..\..\resources\meddiag.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
LicenseFile=..\..\installer\windows\LICENSE.txt
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
; Code signing placeholder: configure a SignTool in the Inno Setup IDE (or iscc /S) and uncomment.
; SignTool=meddiagsign $f
; SignedUninstaller=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"

[Files]
; the whole PyInstaller folder: meddiag.exe (GUI), meddiag-cli.exe (console) and _internal\
Source: "{#DistDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "..\..\resources\meddiag.ico"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; IconFilename: "{app}\meddiag.ico"
Name: "{autoprograms}\{#AppName} (demo study)"; Filename: "{app}\{#AppExe}"; Parameters: "--demo"; IconFilename: "{app}\meddiag.ico"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; IconFilename: "{app}\meddiag.ico"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Parameters: "--demo"; Description: "Open the demo study now"; Flags: nowait postinstall skipifsilent unchecked

[UninstallDelete]
; files the app may have left in its own folder (it writes user data elsewhere)
Type: filesandordirs; Name: "{app}\_internal\plugins\*\__pycache__"
