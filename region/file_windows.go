package region

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// DefaultDir is unused on Windows: regions are named kernel objects.
const DefaultDir = ""

// mmap-go maps files without a name on Windows, and a host must open the
// region by name, so Windows uses named pagefile-backed sections directly.
// The section lives until its last handle closes: there is nothing to
// remove and nothing stale to clean up after a crash.

var (
	kernel32            = windows.NewLazySystemDLL("kernel32.dll")
	procOpenFileMapping = kernel32.NewProc("OpenFileMappingW")
)

type mapping struct {
	h    windows.Handle
	addr uintptr
	mem  []byte
	path string
}

func objectName(name string) string { return `Local\` + name }

func view(h windows.Handle, size uintptr) (uintptr, []byte, error) {
	addr, err := windows.MapViewOfFile(h, windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, 0, 0, size)
	if err != nil {
		return 0, nil, err
	}
	if size == 0 {
		var mbi windows.MemoryBasicInformation
		if err := windows.VirtualQuery(addr, &mbi, unsafe.Sizeof(mbi)); err != nil {
			windows.UnmapViewOfFile(addr)
			return 0, nil, err
		}
		size = mbi.RegionSize
	}
	// Convert without a uintptr->unsafe.Pointer cast on a variable, which
	// vet rightly distrusts; the view stays mapped until close.
	p := *(*unsafe.Pointer)(unsafe.Pointer(&addr))
	return addr, unsafe.Slice((*byte)(p), size), nil
}

func createMapping(dir, name string, size int64) (*mapping, error) {
	obj := objectName(name)
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrName, err)
	}
	h, err := windows.CreateFileMapping(windows.InvalidHandle, nil, windows.PAGE_READWRITE,
		uint32(uint64(size)>>32), uint32(size), p)
	if err != nil {
		if h != 0 {
			windows.CloseHandle(h)
		}
		if errors.Is(err, windows.ERROR_ALREADY_EXISTS) {
			return nil, fmt.Errorf("%w: %s", ErrExists, obj)
		}
		if errors.Is(err, windows.ERROR_ACCESS_DENIED) {
			return nil, fmt.Errorf("%w: %s: %v", ErrPermission, obj, err)
		}
		return nil, fmt.Errorf("region: CreateFileMapping %s: %w", obj, err)
	}
	addr, mem, err := view(h, uintptr(size))
	if err != nil {
		windows.CloseHandle(h)
		return nil, fmt.Errorf("region: MapViewOfFile %s: %w", obj, err)
	}
	return &mapping{h: h, addr: addr, mem: mem, path: obj}, nil
}

func openMapping(dir, name string) (*mapping, int64, error) {
	obj := objectName(name)
	p, err := windows.UTF16PtrFromString(obj)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %v", ErrName, err)
	}
	r, _, callErr := procOpenFileMapping.Call(windows.FILE_MAP_READ|windows.FILE_MAP_WRITE, 0, uintptr(unsafe.Pointer(p)))
	if r == 0 {
		switch {
		case errors.Is(callErr, windows.ERROR_FILE_NOT_FOUND):
			return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, obj)
		case errors.Is(callErr, windows.ERROR_ACCESS_DENIED):
			return nil, 0, fmt.Errorf("%w: %s: %v", ErrPermission, obj, callErr)
		}
		return nil, 0, fmt.Errorf("region: OpenFileMapping %s: %v", obj, callErr)
	}
	h := windows.Handle(r)
	addr, mem, err := view(h, 0)
	if err != nil {
		windows.CloseHandle(h)
		return nil, 0, fmt.Errorf("region: MapViewOfFile %s: %w", obj, err)
	}
	if len(mem) < HeaderSize {
		windows.UnmapViewOfFile(addr)
		windows.CloseHandle(h)
		return nil, 0, fmt.Errorf("%w: %s is %d bytes, the header alone needs %d", ErrTruncated, obj, len(mem), HeaderSize)
	}
	return &mapping{h: h, addr: addr, mem: mem, path: obj}, int64(len(mem)), nil
}

func (m *mapping) bytes() []byte { return m.mem }

func (m *mapping) close() error {
	err := windows.UnmapViewOfFile(m.addr)
	if cerr := windows.CloseHandle(m.h); err == nil {
		err = cerr
	}
	m.mem = nil
	return err
}

func (m *mapping) remove() error { return nil }

func removeName(dir, name string) error { return nil }
