package state

import (
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

const keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func found(id, fp string) Observed {
	return Observed{ID: id, Code: id, Severity: "CRITICAL", Fingerprint: fp, Message: id + " message"}
}

// open is an item notified once at t0 with fingerprint fp.
func open(id, fp string) Item {
	return Item{Key: keyARN, ID: id, Code: id, Status: Open, Fingerprint: fp, FirstSeen: t0, LastSeen: t0,
		LastNotified: t0, NotifyCount: 1, Expires: t0.Add(DefaultOpenTTL), Version: 2}
}

// outcome is a Plan reduced to what a test compares: reason:id lists.
type outcome struct {
	notify, resolve, supersede, refresh, busy []string
}

func reduce(p Plan) outcome {
	var o outcome
	for _, s := range p.Notify {
		o.notify = append(o.notify, string(s.Reason)+":"+s.Found.ID)
	}
	for _, it := range p.Resolve {
		o.resolve = append(o.resolve, it.ID)
	}
	for _, it := range p.Supersede {
		o.supersede = append(o.supersede, it.ID)
	}
	for _, s := range p.Refresh {
		o.refresh = append(o.refresh, s.Item.ID)
	}
	o.busy = p.Busy
	return o
}

func TestDecide(t *testing.T) {
	disabled := found("KEY_DISABLED", "fp1")
	denied := found("REQUIRED_PERMISSION_DENIED#kms:Decrypt", "fp2")
	grant := Observed{ID: "GRANT_REVOKED#grant:g1", Code: "GRANT_REVOKED", Fingerprint: "g", OneTime: true}
	with := func(it Item, f func(*Item)) Item { f(&it); return it }
	for _, tc := range []struct {
		name     string
		now      time.Time
		items    []Item
		j        Judgement
		opts     Options
		want     outcome
		wantNone bool
	}{
		{name: "new finding alerts", now: t0, j: Judgement{Findings: []Observed{disabled}, Complete: true},
			want: outcome{notify: []string{"NEW:KEY_DISABLED"}}},
		{name: "same finding again is silent", now: t0.Add(time.Hour), items: []Item{open("KEY_DISABLED", "fp1")},
			j: Judgement{Findings: []Observed{disabled}, Complete: true}, wantNone: true},
		{name: "one problem said twice in one report is one", now: t0, j: Judgement{Findings: []Observed{disabled, disabled}},
			want: outcome{notify: []string{"NEW:KEY_DISABLED"}}},
		{name: "changed evidence alerts", now: t0.Add(time.Hour), items: []Item{open("KEY_DISABLED", "old")},
			j: Judgement{Findings: []Observed{disabled}}, want: outcome{notify: []string{"CHANGED:KEY_DISABLED"}}},
		{name: "a failed publish is sent on the retry", now: t0.Add(time.Minute),
			items: []Item{with(open("KEY_DISABLED", "fp1"), func(it *Item) { it.NotifyCount, it.LastNotified = 0, time.Time{} })},
			j:     Judgement{Findings: []Observed{disabled}}, want: outcome{notify: []string{"UNSENT:KEY_DISABLED"}}},
		{name: "reminder after RemindAfter", now: t0.Add(24 * time.Hour), items: []Item{open("KEY_DISABLED", "fp1")},
			j: Judgement{Findings: []Observed{disabled}}, want: outcome{notify: []string{"REMINDER:KEY_DISABLED"}}},
		{name: "no reminder just before RemindAfter", now: t0.Add(24*time.Hour - time.Second), items: []Item{open("KEY_DISABLED", "fp1")},
			j: Judgement{Findings: []Observed{disabled}}, wantNone: true},
		{name: "RemindAfter negative never reminds", now: t0.Add(100 * 24 * time.Hour),
			items: []Item{with(open("KEY_DISABLED", "fp1"), func(it *Item) { it.Expires = t0.Add(200 * 24 * time.Hour) })},
			j:     Judgement{Findings: []Observed{disabled}}, opts: Options{RemindAfter: -1}, wantNone: true},
		{name: "custom RemindAfter", now: t0.Add(2 * time.Hour), items: []Item{open("KEY_DISABLED", "fp1")},
			j: Judgement{Findings: []Observed{disabled}}, opts: Options{RemindAfter: time.Hour},
			want: outcome{notify: []string{"REMINDER:KEY_DISABLED"}}},
		{name: "expiry near is pushed back", now: t0.Add(10 * 24 * time.Hour), opts: Options{RemindAfter: -1},
			items: []Item{open("KEY_DISABLED", "fp1")}, j: Judgement{Findings: []Observed{disabled}},
			want: outcome{refresh: []string{"KEY_DISABLED"}}},
		{name: "expired item is absent", now: t0.Add(DefaultOpenTTL), items: []Item{open("KEY_DISABLED", "fp1")},
			j: Judgement{Findings: []Observed{disabled}}, want: outcome{notify: []string{"NEW:KEY_DISABLED"}}},
		{name: "expired item is not resolved", now: t0.Add(DefaultOpenTTL), items: []Item{open("KEY_DISABLED", "fp1")},
			j: Judgement{Complete: true}, wantNone: true},
		{name: "resolved item found again reopens", now: t0.Add(time.Hour),
			items: []Item{with(open("KEY_DISABLED", "fp1"), func(it *Item) { it.Status = Resolved })},
			j:     Judgement{Findings: []Observed{disabled}}, want: outcome{notify: []string{"NEW:KEY_DISABLED"}}},
		{name: "gone on a complete reading resolves", now: t0.Add(time.Hour),
			items: []Item{open("KEY_DISABLED", "fp1"), open("REQUIRED_PERMISSION_DENIED#kms:Decrypt", "fp2")},
			j:     Judgement{Findings: []Observed{denied}, Complete: true}, want: outcome{resolve: []string{"KEY_DISABLED"}}},
		{name: "gone on an incomplete reading resolves nothing", now: t0.Add(time.Hour),
			items: []Item{open("KEY_DISABLED", "fp1")}, j: Judgement{Complete: false}, wantNone: true},
		{name: "already resolved stays quiet", now: t0.Add(time.Hour),
			items: []Item{with(open("KEY_DISABLED", "fp1"), func(it *Item) { it.Status = Resolved })},
			j:     Judgement{Complete: true}, wantNone: true},
		{name: "gone before it was ever said closes quietly", now: t0.Add(time.Hour),
			items: []Item{with(open("KEY_DISABLED", "fp1"), func(it *Item) { it.NotifyCount = 0 })},
			j:     Judgement{Complete: true}, want: outcome{supersede: []string{"KEY_DISABLED"}}},
		{name: "a deleted key supersedes the rest", now: t0.Add(time.Hour),
			items: []Item{open("KEY_PENDING_DELETION", "fp")},
			j:     Judgement{Findings: []Observed{found("KEY_NOT_FOUND", "x")}, Deleted: true},
			want:  outcome{notify: []string{"NEW:KEY_NOT_FOUND"}, supersede: []string{"KEY_PENDING_DELETION"}}},
		{name: "one-time finding said once", now: t0.Add(time.Hour),
			items: []Item{with(open(grant.ID, "g"), func(it *Item) { it.OneTime = true })},
			j:     Judgement{Findings: []Observed{grant}, Complete: true}, wantNone: true},
		{name: "one-time finding is never reminded", now: t0.Add(3 * 24 * time.Hour),
			items: []Item{with(open(grant.ID, "g"), func(it *Item) { it.OneTime = true })},
			j:     Judgement{Findings: []Observed{grant}}, wantNone: true},
		{name: "one-time finding is not resolved by its absence", now: t0.Add(time.Hour),
			items: []Item{with(open(grant.ID, "g"), func(it *Item) { it.OneTime = true })},
			j:     Judgement{Complete: true}, wantNone: true},
		{name: "claimed by another invocation: left to it", now: t0.Add(time.Minute),
			items: []Item{with(open("KEY_DISABLED", "old"), func(it *Item) { it.Claim, it.ClaimUntil = "other", t0.Add(time.Hour) })},
			j:     Judgement{Findings: []Observed{disabled}}, want: outcome{busy: []string{"KEY_DISABLED"}}},
		{name: "a lapsed claim is taken over", now: t0.Add(2 * time.Hour),
			items: []Item{with(open("KEY_DISABLED", "fp1"), func(it *Item) {
				it.NotifyCount, it.Claim, it.ClaimUntil = 0, "crashed", t0.Add(time.Hour)
			})},
			j: Judgement{Findings: []Observed{disabled}}, want: outcome{notify: []string{"UNSENT:KEY_DISABLED"}}},
		{name: "resolving a claimed item is left to its holder", now: t0.Add(time.Minute),
			items: []Item{with(open("KEY_DISABLED", "fp1"), func(it *Item) { it.Claim, it.ClaimUntil = "other", t0.Add(time.Hour) })},
			j:     Judgement{Complete: true}, want: outcome{busy: []string{"KEY_DISABLED"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := Decide(tc.now, tc.items, tc.j, tc.opts)
			got := reduce(p)
			if tc.wantNone {
				if !p.Empty() || len(p.Busy) > 0 {
					t.Fatalf("plan %+v, want nothing to do", got)
				}
				return
			}
			for _, c := range []struct {
				name      string
				got, want []string
			}{
				{"notify", got.notify, tc.want.notify}, {"resolve", got.resolve, tc.want.resolve},
				{"supersede", got.supersede, tc.want.supersede}, {"refresh", got.refresh, tc.want.refresh},
				{"busy", got.busy, tc.want.busy},
			} {
				if !slices.Equal(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestLasted(t *testing.T) {
	for d, want := range map[time.Duration]string{
		42 * time.Second:              "42s",
		5 * time.Minute:               "5m",
		2*time.Hour + 13*time.Minute:  "2h13m",
		47 * time.Hour:                "47h00m",
		51*time.Hour + 30*time.Minute: "2d03h",
	} {
		if got := Lasted(d); got != want {
			t.Errorf("Lasted(%v) = %q, want %q", d, got, want)
		}
	}
}
