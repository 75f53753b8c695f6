// Package textutil holds servagent's one copy of the small text helpers that
// shape what people and models read: shortening and flattening a line.
package textutil

import (
	"strconv"
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

// ClipBytes keeps at most n bytes of s, followed by an ellipsis when
// anything was cut (so the result may be n+3 bytes long). It never splits
// a valid UTF-8 sequence (see CutBytes). Use it to bound a value of unknown
// size (a log field, an echoed name); n < 0 is treated as 0.
func ClipBytes(s string, n int) string {
	if len(s) <= max(n, 0) {
		return s
	}
	return CutBytes(s, n) + "…"
}

// ClipBytesSized is ClipBytes with the full size said after the ellipsis,
// "prefix…(N bytes)", for log values whose length matters to the reader.
func ClipBytesSized(s string, n int) string {
	if len(s) <= max(n, 0) {
		return s
	}
	return CutBytes(s, n) + "…(" + strconv.Itoa(len(s)) + " bytes)"
}

// CutBytes is the first n bytes of s or fewer: the cut moves back to the
// start of the rune it would fall in, so a valid UTF-8 sequence is never
// split; inside bytes that are not UTF-8 it is a plain byte cut. n < 0 is
// treated as 0.
func CutBytes(s string, n int) string {
	n = max(n, 0)
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && cut > n-(utf8.UTFMax-1) && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		cut = n
	}
	return s[:cut]
}

// OneLine folds every run of white space (newlines included) into one space
// and trims the ends, so a multi-line error fits a table cell or a log value.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
