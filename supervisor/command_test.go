package supervisor

import (
	"reflect"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"mono build/dotnet/Sample.exe", []string{"mono", "build/dotnet/Sample.exe"}},
		{"  a\tb  ", []string{"a", "b"}},
		{`sh -c "echo 'hi' >&2; exit 7"`, []string{"sh", "-c", "echo 'hi' >&2; exit 7"}},
		{`'My App'/host --x=a\ b "q\"uote\\" ''`, []string{"My App/host", "--x=a b", `q"uote\`, ""}},
		{`"a"'b'c`, []string{"abc"}},
		{"", nil},
	} {
		got, err := SplitCommand(tc.line)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{`"open`, `'open`, `end\`} {
		if _, err := SplitCommand(bad); err == nil {
			t.Errorf("SplitCommand(%q) succeeded; want an error", bad)
		}
	}
}
