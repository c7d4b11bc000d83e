@echo off
rem uninstall.cmd -- stops and removes the hellosplit service and deletes
rem "%ProgramFiles%\hellosplit". Run it as Administrator. The options and the
rem log in %ProgramData%\hellosplit are kept (delete that folder if you wish).
setlocal
set "DEST=%ProgramFiles%\hellosplit"
rem A script cannot delete the folder it is read from: run a copy from %TEMP%.
if /i not "%~dp0"=="%DEST%\" goto run
if "%~1"=="--copy" goto run
copy /y "%~f0" "%TEMP%\hellosplit-uninstall.cmd" >nul
if errorlevel 1 goto failed
"%TEMP%\hellosplit-uninstall.cmd" --copy

:run
set "EXE=%~dp0hellosplit.exe"
if exist "%DEST%\hellosplit.exe" set "EXE=%DEST%\hellosplit.exe"
"%EXE%" service uninstall
if errorlevel 1 goto failed
rem Unload the WinDivert driver unless another program still uses it.
sc stop WinDivert >nul 2>&1
if exist "%DEST%" rmdir /s /q "%DEST%"
if exist "%DEST%" echo Could not delete "%DEST%" completely: delete it by hand.
echo hellosplit is removed. Kept: %ProgramData%\hellosplit (options and log).
exit /b 0

:failed
echo.
echo hellosplit was not removed (see the message above). uninstall.cmd must run as Administrator.
exit /b 1
