package jobs

import "strings"

// Plain removes terminal escape sequences (CSI such as colours and cursor
// moves, OSC such as window titles, and two-byte ESC sequences), turns CRLF
// into LF and drops the other control characters a terminal would not
// print, keeping newlines and tabs.
func Plain(s string) string {
	if !strings.ContainsAny(s, "\x1b\r\x07\x08\x7f") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0x1b && i+1 < len(s) && s[i+1] == '[':
			i = skipCSI(s, i+2)
		case c == 0x1b && i+1 < len(s) && (s[i+1] == ']' || s[i+1] == 'P' || s[i+1] == '_' || s[i+1] == '^'):
			i = skipString(s, i+2)
		case c == 0x1b:
			// ESC plus one byte (ESC 7, ESC =, ESC ( B: charset takes one more).
			if i+1 < len(s) && (s[i+1] == '(' || s[i+1] == ')') {
				i++
			}
			i++
		case c == '\r':
			if i+1 < len(s) && s[i+1] == '\n' {
				continue
			}
			b.WriteByte('\n')
		case c == '\n' || c == '\t':
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// skipCSI returns the index of the final byte of a CSI sequence whose
// parameters start at i.
func skipCSI(s string, i int) int {
	for ; i < len(s); i++ {
		if s[i] >= 0x40 && s[i] <= 0x7e {
			return i
		}
	}
	return len(s) - 1
}

// skipString returns the index of the end of an OSC/DCS string started at i:
// BEL or ESC \.
func skipString(s string, i int) int {
	for ; i < len(s); i++ {
		if s[i] == 0x07 {
			return i
		}
		if s[i] == 0x1b && i+1 < len(s) && s[i+1] == '\\' {
			return i + 1
		}
	}
	return len(s) - 1
}
