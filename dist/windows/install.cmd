@echo off
rem install.cmd [OPTIONS] -- installs hellosplit as a Windows service.
rem Run it as Administrator (right-click, "Run as administrator", or from an
rem Administrator Command Prompt). It copies hellosplit.exe, WinDivert.dll and
rem WinDivert64.sys to "%ProgramFiles%\hellosplit", writes OPTIONS (e.g.
rem --split-at 5,midsld) to %ProgramData%\hellosplit\hellosplit.conf, registers
rem the service "hellosplit" (starts with Windows) and starts it.
setlocal
set "SRC=%~dp0"
set "DEST=%ProgramFiles%\hellosplit"

if exist "%DEST%\hellosplit.exe" "%DEST%\hellosplit.exe" service stop >nul 2>&1
if not exist "%DEST%" mkdir "%DEST%"
if not exist "%DEST%" goto failed
for %%f in (hellosplit.exe WinDivert.dll README-windows.txt WinDivert-LICENSE.txt uninstall.cmd) do (
	copy /y "%SRC%%%f" "%DEST%\" >nul
	if errorlevel 1 goto failed
)
rem A loaded WinDivert driver keeps its file busy; the same file may stay.
copy /y "%SRC%WinDivert64.sys" "%DEST%\" >nul 2>&1
if not exist "%DEST%\WinDivert64.sys" goto failed

"%DEST%\hellosplit.exe" service install %*
if errorlevel 1 goto failed
"%DEST%\hellosplit.exe" service start
if errorlevel 1 goto failed
echo.
echo hellosplit is installed in "%DEST%" and running as the service "hellosplit".
echo Options: %ProgramData%\hellosplit\hellosplit.conf   Log: %ProgramData%\hellosplit\hellosplit.log
echo To remove it: "%DEST%\uninstall.cmd"
exit /b 0

:failed
echo.
echo hellosplit was not installed (see the message above). install.cmd must run as Administrator.
exit /b 1
