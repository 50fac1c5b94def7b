//go:build cgo

package bridgecheck

import (
	"os"
	"regexp"
	"testing"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
)

// TestLayoutMatchesHeader compares every numeric macro of
// haywire_bridge.h with its Go twin. A macro without a twin fails the test
// too, so a field added on one side cannot be forgotten on the other.
func TestLayoutMatchesHeader(t *testing.T) {
	macros := Macros()
	for name, c := range macros {
		g, ok := twins[name]
		if !ok {
			t.Errorf("%s = %d in haywire_bridge.h has no Go twin in this test", name, c)
			continue
		}
		if c != g {
			t.Errorf("%s = %d in haywire_bridge.h; Go has %d", name, c, g)
		}
	}
	for name := range twins {
		if _, ok := macros[name]; !ok {
			t.Errorf("%s has a Go twin but Macros() does not export it", name)
		}
	}
}

// TestEveryMacroChecked reads the header itself: every object-like
// HW_BRIDGE_ macro must be exported by Macros (and so compared above).
func TestEveryMacroChecked(t *testing.T) {
	src, err := os.ReadFile(bridgetest.Include(t, "haywire_bridge.h"))
	if err != nil {
		t.Fatal(err)
	}
	// Object-like macros only: a name followed by a space, not "(";
	// internal ones (HW_BRIDGE__) are not part of the contract.
	re := regexp.MustCompile(`(?m)^#define (HW_BRIDGE_[A-Z0-9][A-Z0-9_]*) `)
	macros := Macros()
	n := 0
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		n++
		if _, ok := macros[m[1]]; !ok {
			t.Errorf("%s is defined in haywire_bridge.h but not compared with Go (add it to Macros)", m[1])
		}
	}
	if n < 60 {
		t.Errorf("found only %d macros; is the pattern still right?", n)
	}
}
