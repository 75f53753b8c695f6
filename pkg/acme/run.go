package acme

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"time"

	"github.com/servagent/servagent/pkg/timeutil"
)

// Run keeps the certificate fresh until ctx is done. It checks at start and
// then every `every` (or earlier, when the renewal point comes sooner), and
// renews when NeedsRenewal says so or when the CA's ARI window (RFC 9773) says
// it is time. New files are written atomically; the TLS layer picks them up by
// re-reading them. onRenew, if non-nil, runs after each successful write.
//
// `before` is capped at a third of the certificate's lifetime, so a short-lived
// certificate (e.g. 6 days with before=30d) is renewed at 2/3 of its life
// instead of in a loop. Failures are logged with the reason and retried with
// exponential backoff from Options.RetryMin up to Options.RetryMax.
func (m *Manager) Run(ctx context.Context, ch Challenge, every, before time.Duration, onRenew func()) {
	if every <= 0 {
		every = 12 * time.Hour
	}
	m.log.Info("certificate renewal loop started", "challenge", ch.String(), "every", every, "before", before)
	defer m.log.Info("certificate renewal loop stopped")
	failures := 0
	var wait time.Duration // check right away
	for {
		if !timeutil.Sleep(ctx, wait) {
			return
		}
		next, renewed, err := m.check(ctx, ch, every, before)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			wait = m.backoff(failures)
			m.log.Error("certificate renewal failed", "err", err, "attempt", failures, "retry_in", wait)
			continue
		}
		failures = 0
		wait = next
		if renewed && onRenew != nil {
			onRenew()
		}
	}
}

// check renews if due and returns how long to sleep before the next check.
func (m *Manager) check(ctx context.Context, ch Challenge, every, before time.Duration) (time.Duration, bool, error) {
	now := time.Now()
	leaf, err := m.leaf()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		m.log.Warn("certificate on disk is unusable; obtaining a new one", "err", err)
	}
	reason := ""
	switch {
	case leaf == nil:
		reason = "no usable certificate on disk"
	case leaf.VerifyHostname(m.opts.Domain) != nil:
		reason = "certificate on disk is for another name"
	}
	due := reason != ""
	next := every
	if !due {
		at := leaf.NotAfter.Add(-effectiveBefore(leaf.NotAfter.Sub(leaf.NotBefore), before))
		if !at.After(now) {
			due, reason = true, "certificate expires at "+leaf.NotAfter.UTC().Format(time.RFC3339)
		} else {
			next = min(next, at.Sub(now))
			if ari := m.ariRenewAt(ctx, leaf, now, every); ari != nil {
				if !ari.After(now) {
					due, reason = true, "the CA's renewal info (ARI) says renew now"
				} else {
					next = min(next, ari.Sub(now))
				}
			}
		}
	}
	if !due {
		next = max(next, time.Second) // never spin, whatever the CA's window says
		m.log.Debug("certificate is fresh", "not_after", leaf.NotAfter, "next_check_in", next)
		return next, false, nil
	}
	m.log.Info("renewing certificate", "reason", reason)
	fresh, err := m.obtain(ctx, ch)
	if err != nil {
		return 0, false, err
	}
	at := fresh.NotAfter.Add(-effectiveBefore(fresh.NotAfter.Sub(fresh.NotBefore), before))
	return max(min(every, time.Until(at)), time.Second), true, nil
}

func effectiveBefore(lifetime, before time.Duration) time.Duration {
	if lifetime > 0 && before > lifetime/3 {
		return lifetime / 3
	}
	return before
}

// ariRenewAt asks the CA when to renew (nil: not within `every`, or the CA has
// no ARI, or it failed; ARI is advisory so errors only go to the debug log).
func (m *Manager) ariRenewAt(ctx context.Context, leaf *x509.Certificate, now time.Time, every time.Duration) *time.Time {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	client, err := m.newClient(ctx, false)
	if err != nil {
		m.log.Debug("renewal info (ARI) unavailable", "err", err)
		return nil
	}
	ri, err := client.Certificate.GetRenewalInfo(ctx, leaf)
	if err != nil {
		m.log.Debug("renewal info (ARI) unavailable", "err", err)
		return nil
	}
	return ri.ShouldRenewAt(now, every) // same `now` as the caller: "renew now" compares equal
}

func (m *Manager) backoff(failures int) time.Duration {
	d := m.opts.RetryMin
	for i := 1; i < failures && d < m.opts.RetryMax; i++ {
		d *= 2
	}
	return min(d, m.opts.RetryMax)
}
