@echo off
rem haywire build script for Windows (Go and MinGW-w64 gcc on PATH).
rem   build.bat          builds build\haywire.dll, build\hello_world.exe and build\c_host.exe
rem   build.bat test     builds, then runs go vet and go test
rem libhaywire_host (hostlib\, the host API without Go) is not built here: it
rem is Linux only for now (its doorbells are futexes; a port would use
rem WaitOnAddress). On Windows c_host.exe uses haywire.dll's hw_host_*.
setlocal
cd /d "%~dp0"
where go >nul 2>nul || (echo build.bat: go is required & exit /b 1)
where gcc >nul 2>nul || (echo build.bat: MinGW-w64 gcc is required for cgo & exit /b 1)
if not exist build mkdir build
set CGO_ENABLED=1
echo ==^> go build -buildmode=c-shared -^> build\haywire.dll
go build -trimpath -buildmode=c-shared -o build\haywire.dll .\cmd\libhaywire || exit /b 1
if exist build\haywire.h del build\haywire.h
echo ==^> gcc examples\hello_world -^> build\hello_world.exe
gcc -std=c99 -O2 -Wall -Iinclude -DUSING_HAYWIRE_SHARED examples\hello_world\hello_world.c -Lbuild -lhaywire -o build\hello_world.exe || exit /b 1
echo ==^> gcc examples\c_host -^> build\c_host.exe
gcc -std=c99 -O2 -Wall -Iinclude -DUSING_HAYWIRE_SHARED examples\c_host\c_host.c -Lbuild -lhaywire -o build\c_host.exe || exit /b 1
if /i "%1"=="test" (
  go vet ./... || exit /b 1
  go test ./... || exit /b 1
)
endlocal
