package monitor

import (
	"context"
	"time"
)

// nameTTL is how long a warm function trusts an account name it read.
const nameTTL = time.Hour

// accountNames caches the account names read from State, so that a warm
// function reads each account's at most once an hour.
type accountNames struct {
	name map[string]string
	at   map[string]time.Time
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
	name, at := m.names.name[account], m.names.at[account]
	m.mu.Unlock()
	if at.IsZero() || now.Sub(at) > nameTTL {
		n, _, err := m.State.AccountName(ctx, account)
		if err != nil {
			m.log().Warn("account name not read: the alert names the account by id only", "account", account, "error", err.Error())
			return
		}
		name = n
		m.mu.Lock()
		if m.names.name == nil {
			m.names = accountNames{name: map[string]string{}, at: map[string]time.Time{}}
		}
		m.names.name[account], m.names.at[account] = name, now
		m.mu.Unlock()
	}
	kr.AccountName = name
}
