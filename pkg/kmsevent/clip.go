package kmsevent

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxShown is how many bytes of a string from the input an error, a Reason
// or a log line shows; the rest is cut with the length said.
const MaxShown = 256

// MaxErrors is how many bad records of a log file an error lists; the others
// are counted.
const MaxErrors = 10

// Clip bounds s, a string taken from an event, for an error or a log line:
// invalid UTF-8 becomes U+FFFD, control and format characters are escaped
// (\n, \x1b, \u202e) and a string longer than [MaxShown] bytes is cut on a
// rune boundary and ends with "…(+N bytes)". Short plain strings are
// returned unchanged.
func Clip(s string) string {
	cut, rest := bound(s)
	out := escape(cut)
	if rest > 0 {
		out += fmt.Sprintf("…(+%d bytes)", rest)
	}
	return out
}

// quote is %q of s, clipped like Clip, the marker after the closing quote.
func quote(s string) string {
	cut, rest := bound(s)
	out := strconv.Quote(cut)
	if rest > 0 {
		out += fmt.Sprintf("…(+%d bytes)", rest)
	}
	return out
}

// ClipBytes is [Clip] of raw input bytes, without copying all of them:
// what a log line shows of an input that could not be decoded.
func ClipBytes(b []byte) string {
	if len(b) <= MaxShown {
		return Clip(string(b))
	}
	cut, _ := bound(string(b[:MaxShown+1]))
	return escape(cut) + fmt.Sprintf("…(+%d bytes)", len(b)-len(cut))
}

// bound returns the first MaxShown bytes of s, cut on a rune boundary, and
// how many bytes were left off.
func bound(s string) (string, int) {
	if len(s) <= MaxShown {
		return s, 0
	}
	cut := MaxShown
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], len(s) - cut
}

// escape escapes control and format characters and invalid UTF-8.
func escape(s string) string {
	if !strings.ContainsFunc(s, needsEscape) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteRune(utf8.RuneError)
		case needsEscape(r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029'
}
