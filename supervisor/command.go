package supervisor

import (
	"errors"
	"strings"
)

// SplitCommand splits a command line into its words as a POSIX shell
// would, without expanding anything: words are separated by spaces or
// tabs; single quotes keep everything up to the next single quote;
// double quotes keep everything but a backslash before " or \, which
// escapes it; outside quotes a backslash escapes the next character.
// The host runs without a shell: no variables, globs or redirections.
func SplitCommand(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
			continue
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("unterminated ' in the command")
			}
			w.WriteString(line[i+1 : i+1+j])
			i += 1 + j
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && (line[i+1] == '"' || line[i+1] == '\\') {
					i++
				}
				w.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, errors.New(`unterminated " in the command`)
			}
		case c == '\\':
			if i+1 == len(line) {
				return nil, errors.New(`the command ends with \`)
			}
			i++
			w.WriteByte(line[i])
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}
