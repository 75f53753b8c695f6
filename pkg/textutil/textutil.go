// Package textutil holds servagent's one copy of the small text helpers that
// shape what people and models read: shortening and flattening a line.
package textutil

import (
	"strings"
	"unicode/utf8"
)

// Clip shortens s to at most n runes, the last one an ellipsis when anything
// was cut. It never splits a rune. n < 1 is treated as 1.
func Clip(s string, n int) string {
	n = max(n, 1)
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// OneLine folds every run of white space (newlines included) into one space
// and trims the ends, so a multi-line error fits a table cell or a log value.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
