package secret

import "testing"

func TestEqualAndKeys(t *testing.T) {
	if !Equal("abc", "abc") || Equal("abc", "abd") || Equal("abc", "abcd") || Equal("", "x") {
		t.Fatal("Equal")
	}
	a, b := NewKey(), NewKey()
	if a == b || len(a) != 43 {
		t.Fatalf("keys %q %q", a, b)
	}
	if len(NewHex(8)) != 16 {
		t.Fatal("NewHex")
	}
	if Hash("x") == Hash("y") || len(Hash("x")) != 64 {
		t.Fatal("Hash")
	}
}
