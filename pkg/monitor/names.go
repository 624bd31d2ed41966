package monitor

import (
	"context"
	"time"
)

// nameTTL is how long a warm function trusts an account name it read.
const nameTTL = time.Hour

// cachedName is an account name read from State ("" for none), and when:
// a warm function reads each account's at most once an hour.
type cachedName struct {
	name string
	at   time.Time
}

// storeNames keeps the names of the organization's accounts that
// Organizations gave the sweep (ts) in State, for the event path's alerts.
// A failure costs only the names, and is logged.
func (m *Monitor) storeNames(ctx context.Context, ts []Target) {
	names := map[string]string{}
	for _, t := range ts {
		if t.Name != "" {
			names[t.Account] = clip(t.Name)
		}
	}
	if m.State == nil || len(names) == 0 {
		return
	}
	if err := m.State.PutAccountNames(ctx, names); err != nil {
		m.log().Warn("account names not stored: alerts name accounts by id only", "error", err.Error())
	}
}

// nameAccount sets kr's AccountName, in the organization deployment, to
// the name the organization's sweep stored for the key's account, when kr
// has none (the event path; a sweep's work item knows its own). Without a
// name, or when it cannot be read, the alert names the account by id only.
func (m *Monitor) nameAccount(ctx context.Context, kr *KeyResult) {
	account := kr.Report.Key.Account
	if kr.AccountName != "" || m.Org == nil || m.State == nil || account == "" {
		return
	}
	now := m.now()
	m.mu.Lock()
	c, ok := m.names[account]
	m.mu.Unlock()
	if !ok || now.Sub(c.at) > nameTTL {
		name, _, err := m.State.AccountName(ctx, account)
		if err != nil {
			m.log().Warn("account name not read: the alert names the account by id only", "account", account, "error", err.Error())
			return
		}
		c = cachedName{name: name, at: now}
		m.mu.Lock()
		if m.names == nil {
			m.names = map[string]cachedName{}
		}
		m.names[account] = c
		m.mu.Unlock()
	}
	kr.AccountName = c.name
}
