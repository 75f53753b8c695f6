package ratelimit

import (
	"testing"
	"time"
)

func TestAddrKeyCutsIPv6ToItsSlash64(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":               "192.0.2.1",
		"::ffff:192.0.2.1":        "192.0.2.1",
		"2001:db8:1:2::1":         "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::9":    "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"not-an-address":          "not-an-address",
		"2001:db8:1:3:0:0:0:1":    "2001:db8:1:3::/64",
		"2001:0db8:0001:0002::77": "2001:db8:1:2::/64",
	} {
		if got := AddrKey(in); got != want {
			t.Errorf("AddrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// Past the per-address limit only inFlight checks of that address run at
// once; each failed one keeps its slot for the hold even after End, and a
// successful one gives it back at once.
func TestFailuresBoundsPenalisedChecksInFlight(t *testing.T) {
	f := NewFailures(3, 1000, time.Minute, 2)
	now := time.Now()
	for i := range 3 {
		a, ok := f.Begin("a", now)
		if !ok {
			t.Fatalf("check %d under the limit refused", i)
		}
		if over, _ := a.Fail(now); over {
			t.Fatalf("failure %d reported over the limit of 3", i)
		}
		a.End(time.Hour)
	}
	if f.InFlight("a") != 0 {
		t.Fatalf("checks under the limit hold in-flight slots: %d", f.InFlight("a"))
	}
	// Past the limit: two penalised checks, the third is refused unchecked.
	a1, ok1 := f.Begin("a", now)
	a2, ok2 := f.Begin("a", now)
	if _, ok3 := f.Begin("a", now); !ok1 || !ok2 || ok3 {
		t.Fatalf("past the limit: admitted %v %v %v, want true true false", ok1, ok2, ok3)
	}
	// Another address is unaffected.
	if b, ok := f.Begin("b", now); !ok || f.InFlight("b") != 0 {
		t.Fatal("another address was penalised")
	} else {
		b.End(0)
	}
	// a1 was a correct secret: its slot comes back at once.
	a1.End(time.Hour)
	a3, ok := f.Begin("a", now)
	if !ok {
		t.Fatal("a successful check did not give its slot back")
	}
	// a2 and a3 fail: their slots stay taken for the hold, even after End.
	a2.Fail(now)
	a3.Fail(now)
	a2.End(100 * time.Millisecond)
	a3.End(100 * time.Millisecond)
	if _, ok := f.Begin("a", time.Now()); ok {
		t.Fatal("a failed check gave its slot back before the hold")
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.InFlight("a") != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slots not released after the hold: %d", f.InFlight("a"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Checks under the limit reserve the failures left, so parallel checks
// that begin together cannot all slip under it.
func TestFailuresReservesTheFailuresLeft(t *testing.T) {
	f := NewFailures(3, 1000, time.Minute, 1)
	now := time.Now()
	admitted := 0
	var held []*Attempt
	for range 10 {
		if a, ok := f.Begin("a", now); ok {
			admitted++
			held = append(held, a)
		}
	}
	// 3 under the limit and 1 penalised.
	if admitted != 4 || f.InFlight("a") != 1 {
		t.Fatalf("10 parallel checks: %d admitted, %d penalised; want 4 and 1", admitted, f.InFlight("a"))
	}
	for _, a := range held {
		a.End(0)
	}
	if a, ok := f.Begin("a", now); !ok || f.InFlight("a") != 0 {
		t.Fatal("ended checks kept their reservation")
	} else {
		a.End(0)
	}
}

// The global budget counts failures of every address: past it, a failure
// of an address that has never failed is over the limit too, but checks
// are never refused unchecked for it (only an address past its own limit
// is), so a correct secret from elsewhere always gets checked.
func TestFailuresGlobalBudgetSpansAddresses(t *testing.T) {
	f := NewFailures(30, 5, time.Minute, 1)
	now := time.Now()
	for i := range 5 {
		a, _ := f.Begin(string(rune('a'+i)), now)
		if _, overGlobal := a.Fail(now); overGlobal {
			t.Fatalf("failure %d over a global budget of 5", i)
		}
		a.End(0)
	}
	var running []*Attempt
	for i := range 5 {
		a, ok := f.Begin("fresh", now)
		if !ok {
			t.Fatalf("past the global budget, check %d of a new address refused unchecked", i)
		}
		running = append(running, a)
	}
	if overAddr, overGlobal := running[0].Fail(now); overAddr || !overGlobal {
		t.Fatalf("Fail past the global budget: overAddr %v overGlobal %v", overAddr, overGlobal)
	}
	for _, a := range running {
		a.End(time.Hour)
	}
	if f.InFlight("fresh") != 0 {
		t.Fatalf("the global budget took in-flight slots: %d", f.InFlight("fresh"))
	}
}
