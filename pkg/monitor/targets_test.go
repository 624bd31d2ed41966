package monitor

import (
	"slices"
	"strings"
	"testing"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

func TestScopeTargets(t *testing.T) {
	const (
		acct   = "111122223333"
		region = "us-east-1"
		key    = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	)
	long := "arn:aws:kms:us-east-1:" + strings.Repeat("9", 400) + ":alias/x"
	tests := []struct {
		name        string
		account     string
		region      string
		keys        []string
		aliases     []string
		wantKeys    []string
		wantAliases []string
		wantWhy     []string // one per refused target, in order
	}{
		{name: "own key and alias", account: acct, region: region, keys: []string{key},
			aliases: []string{"arn:aws:kms:us-east-1:111122223333:alias/fsx-prod"}, wantKeys: []string{key},
			wantAliases: []string{"arn:aws:kms:us-east-1:111122223333:alias/fsx-prod"}},
		{name: "alias name qualified with the event's account and Region", account: acct, region: region,
			aliases: []string{"alias/fsx-prod"}, wantAliases: []string{"arn:aws:kms:us-east-1:111122223333:alias/fsx-prod"}},
		{name: "alias name in a China Region", account: acct, region: "cn-north-1",
			aliases: []string{"alias/x"}, wantAliases: []string{"arn:aws-cn:kms:cn-north-1:111122223333:alias/x"}},
		{name: "alias ARN in another account", account: acct, region: region,
			aliases: []string{"arn:aws:kms:us-east-1:999999999999:alias/x"}, wantWhy: []string{"in account 999999999999, not the event's account 111122223333"}},
		{name: "alias ARN in another Region", account: acct, region: region,
			aliases: []string{"arn:aws:kms:eu-west-1:111122223333:alias/x"}, wantWhy: []string{"in Region eu-west-1, not the event's Region us-east-1"}},
		{name: "alias ARN in another partition", account: acct, region: region,
			aliases: []string{"arn:aws-cn:kms:us-east-1:111122223333:alias/x"}, wantWhy: []string{"in partition aws-cn, not aws of the event's Region us-east-1"}},
		{name: "key ARN in another account", account: acct, region: region,
			keys:     []string{"arn:aws:kms:us-east-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab", key},
			wantKeys: []string{key}, wantWhy: []string{"in account 999999999999"}},
		{name: "key ARN in another Region", account: acct, region: region,
			keys: []string{"arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, wantWhy: []string{"in Region us-west-2"}},
		{name: "no account in the event", region: region, keys: []string{key}, aliases: []string{"alias/x"},
			wantWhy: []string{"no account or Region", "no account or Region"}},
		{name: "no Region in the event", account: acct, aliases: []string{"arn:aws:kms:us-east-1:111122223333:alias/x"},
			wantWhy: []string{"no account or Region"}},
		{name: "duplicates named once", account: acct, region: region, keys: []string{key, key},
			aliases: []string{"alias/a", "arn:aws:kms:us-east-1:111122223333:alias/a"}, wantKeys: []string{key},
			wantAliases: []string{"arn:aws:kms:us-east-1:111122223333:alias/a"}},
		{name: "a long account is clipped in the reason", account: acct, region: region, aliases: []string{long},
			wantWhy: []string{"in account 999"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := scopeTargets(kmsevent.Event{Account: tt.account, Region: tt.region, KeyARNs: tt.keys, Aliases: tt.aliases})
			if !slices.Equal(s.keyARNs, tt.wantKeys) || !slices.Equal(s.aliases, tt.wantAliases) {
				t.Errorf("keys %q aliases %q, want %q %q", s.keyARNs, s.aliases, tt.wantKeys, tt.wantAliases)
			}
			if len(s.refused) != len(tt.wantWhy) {
				t.Fatalf("refused %+v, want %d", s.refused, len(tt.wantWhy))
			}
			for i, r := range s.refused {
				if !strings.Contains(r.why, tt.wantWhy[i]) || len(r.why) > 700 {
					t.Errorf("refused %q: why %q, want it to say %q (clipped)", r.target, r.why, tt.wantWhy[i])
				}
			}
		})
	}
}
