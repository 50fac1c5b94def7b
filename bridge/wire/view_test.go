package wire_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/haywireowin/haywire/bridge/internal/bridgetest"
	"github.com/haywireowin/haywire/bridge/wire"
)

func TestViewRoundTrip(t *testing.T) {
	b := bridgetest.EncView(bridgetest.SampleView())
	if len(b) != wire.ViewLen(bridgetest.SampleView()) {
		t.Fatalf("len = %d; want wire.ViewLen %d", len(b), wire.ViewLen(bridgetest.SampleView()))
	}
	v, err := wire.DecodeView(b)
	if err != nil {
		t.Fatal(err)
	}
	q, hasQ := v.Query()
	name, value := v.Field(1)
	for _, c := range []struct{ what, got, want string }{
		{"method", string(v.Method()), "POST"},
		{"target", string(v.Target()), "/a/b?x=1"},
		{"path", string(v.Path()), "/a/b"},
		{"query", string(q), "x=1"},
		{"host", string(v.Host()), "example.com"},
		{"field 1", string(name) + "=" + string(value), "X-Y=z"},
		{"body", string(v.Body()), "body"},
		{"remote", v.Remote().String(), "10.1.2.3:5555"},
		{"local", v.Local().String(), "[::1]:80"},
	} {
		if c.got != c.want {
			t.Errorf("%s = %q; want %q", c.what, c.got, c.want)
		}
	}
	if !hasQ || v.RequestID() != 42 || v.ConnID() != 7 || v.ContentLength() != 4 || v.NumFields() != 2 ||
		v.MethodID() != 3 || v.Minor() != 1 || v.Flags() != wire.ViewKeepAlive {
		t.Errorf("fixed fields = %v %d %d %d %d %d %d %d", hasQ, v.RequestID(), v.ConnID(), v.ContentLength(),
			v.NumFields(), v.MethodID(), v.Minor(), v.Flags())
	}
	noQ := bridgetest.SampleView()
	noQ.QuerySpan = wire.Span{Len: wire.NoQuery}
	v, _ = wire.DecodeView(bridgetest.EncView(noQ))
	if q, ok := v.Query(); ok || q != nil {
		t.Errorf("Query() without '?' = %q, %v; want nil, false", q, ok)
	}
}

func TestDecodeViewRejects(t *testing.T) {
	good := bridgetest.EncView(bridgetest.SampleView())
	for _, tc := range []struct {
		name string
		mut  func(b []byte) []byte
	}{
		{"short", func(b []byte) []byte { return b[:wire.ViewHeaderLen-1] }},
		{"version", func(b []byte) []byte { b[wire.ViewVersionOffset] = 9; return b }},
		{"truncated body", func(b []byte) []byte { return b[:len(b)-1] }},
		{"span past head", func(b []byte) []byte { b[wire.ViewTargetSpanOffset+wire.SpanLenOffset] = 0xff; return b }},
		{"field count", func(b []byte) []byte { b[wire.ViewFieldCountOffset] = 200; return b }},
		{"table offset", func(b []byte) []byte { b[wire.ViewTableOffOffset] = 3; return b }},
		{"field span", func(b []byte) []byte { b[wire.ViewHeaderLen+4] = 0xff; return b }},
		{"empty field name", func(b []byte) []byte { copy(b[wire.ViewHeaderLen+4:], []byte{0, 0, 0, 0}); return b }},
	} {
		b := tc.mut(bytes.Clone(good))
		if _, err := wire.DecodeView(b); err == nil {
			t.Errorf("DecodeView(%s) accepted a corrupt view", tc.name)
		}
	}
}

func TestResponseRoundTrip(t *testing.T) {
	h := &wire.ResponseHead{Status: 201, Reason: []byte("Made"), Fields: []byte("A: 1\r\nB-C: two\r\n"), ContentLength: 3}
	got, body, err := wire.DecodeResponse(bridgetest.EncResp(h, []byte("abc")))
	if err != nil || got.Status != 201 || string(got.Reason) != "Made" || string(body) != "abc" || got.ContentLength != 3 {
		t.Fatalf("DecodeResponse = %+v %q %v", got, body, err)
	}
	var names []string
	for f := got.Fields; len(f) > 0; {
		n, v, rest, ok := wire.NextField(f)
		if !ok {
			t.Fatalf("NextField(%q) failed", f)
		}
		names = append(names, string(n)+"="+string(v))
		f = rest
	}
	if len(names) != 2 || names[1] != "B-C=two" {
		t.Fatalf("fields = %q", names)
	}
	for _, bad := range [][]byte{nil, make([]byte, 15), bridgetest.EncResp(&wire.ResponseHead{Status: 99}, nil),
		bridgetest.EncResp(&wire.ResponseHead{Status: 200, Fields: []byte("x")}, nil)[:16]} { // fields overrun
		if _, _, err := wire.DecodeResponse(bad); err == nil {
			t.Errorf("DecodeResponse(%x) accepted it", bad)
		}
	}
}

// FuzzDecodeView: any bytes either fail to decode or yield a view whose
// every accessor stays in bounds. Seeds: a real view and its corruptions.
func FuzzDecodeView(f *testing.F) {
	f.Add(bridgetest.EncView(bridgetest.SampleView()))
	f.Add(make([]byte, wire.ViewHeaderLen))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := wire.DecodeView(b)
		if err != nil {
			return
		}
		_ = v.Method()
		_ = v.Target()
		_ = v.Path()
		v.Query()
		_ = v.Authority()
		_ = v.Host()
		_ = v.Body()
		for i := 0; i < v.NumFields(); i++ {
			v.Field(i)
		}
		v.Remote()
		v.Local()
	})
}

// FuzzDecodeResponse: no panic; accepted heads lie within the input.
func FuzzDecodeResponse(f *testing.F) {
	f.Add(bridgetest.EncResp(&wire.ResponseHead{Status: 200, Fields: []byte("A: b\r\n"), ContentLength: 2}, []byte("hi")))
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := wire.DecodeResponse(b)
		if err != nil {
			return
		}
		if len(h.Reason)+len(h.Fields)+len(body)+wire.ResponseHeadLen != len(b) {
			t.Fatalf("parts do not add up to the input")
		}
		for f := h.Fields; len(f) > 0; {
			_, _, rest, ok := wire.NextField(f)
			if !ok {
				break
			}
			f = rest
		}
	})
}

func TestEncodersRefuseWhatTheFormatCannotCarry(t *testing.T) {
	for _, h := range []wire.ResponseHead{{Status: 99}, {Status: 1000}, {Status: 65736}, {Status: 200, Reason: make([]byte, 0x10000)}} {
		if b, err := wire.EncodeResponse([]byte("x"), &h, nil); err == nil || string(b) != "x" {
			t.Errorf("EncodeResponse(status %d, reason %d bytes) = %d bytes, %v; want an error and nothing appended",
				h.Status, len(h.Reason), len(b), err)
		}
	}
	v := bridgetest.SampleView()
	v.Fields = make([]wire.FieldSpan, wire.MaxViewFields+1)
	if _, err := wire.EncodeView(nil, v); err == nil {
		t.Errorf("EncodeView with %d fields succeeded; want an error", len(v.Fields))
	}
}

func TestDecodeViewRequiresPackedLayout(t *testing.T) {
	good := bridgetest.EncView(bridgetest.SampleView())
	for name, mut := range map[string]func([]byte) []byte{
		"trailing byte":        func(b []byte) []byte { return append(b, 0) },
		"body over the header": func(b []byte) []byte { binary.LittleEndian.PutUint32(b[wire.ViewBodyOffOffset:], 0); return b },
		"table moved": func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[wire.ViewTableOffOffset:], wire.ViewHeaderLen+16)
			return b
		},
	} {
		if _, err := wire.DecodeView(mut(bytes.Clone(good))); err == nil {
			t.Errorf("DecodeView(%s) accepted it", name)
		}
	}
}
