package monitor

import (
	"strings"
	"testing"
	"time"

	"github.com/fsxkms/fsxkms/pkg/check"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/state"
)

func TestSettingsFromEnv(t *testing.T) {
	key := "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	tests := []struct {
		name    string
		env     map[string]string
		check   func(Settings) bool
		wantErr string
	}{
		{name: "defaults", env: nil, check: func(s Settings) bool {
			return s.MinSeverity == "INFO" && s.Discovery && s.TTL == 5*time.Minute && s.Concurrency == 8 && s.Summary == SummaryAuto && s.TopicARN == ""
		}},
		{name: "everything set", env: map[string]string{
			"ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:111122223333:t", "MIN_SEVERITY": "warning", "FSX_KEY_ARNS": key + " , ",
			"FSX_DISCOVERY": "OFF", "INVENTORY_TTL": "30s", "FSX_PRINCIPALS": "arn:aws:iam::111122223333:role/FsxAdmin",
			"SWEEP_CONCURRENCY": "32", "SWEEP_SUMMARY": "always",
		}, check: func(s Settings) bool {
			return s.MinSeverity == "WARNING" && !s.Discovery && len(s.ExtraKeys) == 1 && s.ExtraKeys[0] == key && s.TTL == 30*time.Second &&
				len(s.Principals) == 1 && s.Concurrency == 32 && s.Summary == SummaryAlways && s.TopicARN != ""
		}},
		{name: "bad topic ARN", env: map[string]string{"ALERT_TOPIC_ARN": "fsxkms-alerts"}, wantErr: "ALERT_TOPIC_ARN"},
		{name: "bad severity", env: map[string]string{"MIN_SEVERITY": "HIGH"}, wantErr: "MIN_SEVERITY"},
		{name: "bad discovery", env: map[string]string{"FSX_DISCOVERY": "maybe"}, wantErr: "FSX_DISCOVERY"},
		{name: "discovery off without keys", env: map[string]string{"FSX_DISCOVERY": "off"}, wantErr: "needs FSX_KEY_ARNS"},
		{name: "key id instead of ARN", env: map[string]string{"FSX_KEY_ARNS": "1234abcd-12ab-34cd-56ef-1234567890ab"}, wantErr: "not a key ARN"},
		{name: "bad ttl", env: map[string]string{"INVENTORY_TTL": "5"}, wantErr: "INVENTORY_TTL"},
		{name: "ttl 0 is no cache", env: map[string]string{"INVENTORY_TTL": "0"}, check: func(s Settings) bool { return s.TTL == 0 }},
		{name: "default timeouts", env: nil, check: func(s Settings) bool {
			return s.CallTimeout == 10*time.Second && s.KeyBudget == 30*time.Second
		}},
		{name: "timeouts set", env: map[string]string{"FSX_CALL_TIMEOUT": "3s", "SWEEP_KEY_BUDGET": "1m"}, check: func(s Settings) bool {
			return s.CallTimeout == 3*time.Second && s.KeyBudget == time.Minute
		}},
		{name: "bad call timeout", env: map[string]string{"FSX_CALL_TIMEOUT": "10"}, wantErr: "FSX_CALL_TIMEOUT"},
		{name: "call timeout too short", env: map[string]string{"FSX_CALL_TIMEOUT": "10ms"}, wantErr: "FSX_CALL_TIMEOUT"},
		{name: "zero key budget", env: map[string]string{"SWEEP_KEY_BUDGET": "0"}, wantErr: "SWEEP_KEY_BUDGET"},
		{name: "key budget too long", env: map[string]string{"SWEEP_KEY_BUDGET": "1h"}, wantErr: "SWEEP_KEY_BUDGET"},
		{name: "bad concurrency", env: map[string]string{"SWEEP_CONCURRENCY": "0"}, wantErr: "SWEEP_CONCURRENCY"},
		{name: "bad summary", env: map[string]string{"SWEEP_SUMMARY": "sometimes"}, wantErr: "SWEEP_SUMMARY"},
		{name: "state table and reminders", env: map[string]string{"STATE_TABLE": "fsxkms-state", "REMIND_AFTER": "1h30m"},
			check: func(s Settings) bool { return s.StateTable == "fsxkms-state" && s.RemindAfter == 90*time.Minute }},
		{name: "state table ARN", env: map[string]string{"STATE_TABLE": "arn:aws:dynamodb:us-east-1:111122223333:table/fsxkms-state"},
			check: func(s Settings) bool { return s.StateTable != "" && s.RemindAfter == state.DefaultRemindAfter }},
		{name: "REMIND_AFTER 0 never reminds", env: map[string]string{"REMIND_AFTER": "0"}, check: func(s Settings) bool { return s.RemindAfter < 0 }},
		{name: "bad REMIND_AFTER", env: map[string]string{"REMIND_AFTER": "24"}, wantErr: "REMIND_AFTER"},
		{name: "negative REMIND_AFTER", env: map[string]string{"REMIND_AFTER": "-1h"}, wantErr: "REMIND_AFTER"},
		{name: "bad STATE_TABLE", env: map[string]string{"STATE_TABLE": "a b"}, wantErr: "STATE_TABLE"},
		{name: "Security Hub and event bus off by default", env: nil, check: func(s Settings) bool { return !s.SecurityHub && s.EventBusARN == "" }},
		{name: "Security Hub on", env: map[string]string{"SECURITY_HUB": "on", "STATE_TABLE": "fsxkms-state"}, check: func(s Settings) bool { return s.SecurityHub }},
		{name: "Security Hub without state", env: map[string]string{"SECURITY_HUB": "on"}, wantErr: "SECURITY_HUB=on needs STATE_TABLE"},
		{name: "bad SECURITY_HUB", env: map[string]string{"SECURITY_HUB": "yes please"}, wantErr: "SECURITY_HUB"},
		{name: "event bus", env: map[string]string{"EVENT_BUS_ARN": "arn:aws:events:us-east-1:111122223333:event-bus/ops"},
			check: func(s Settings) bool { return s.EventBusARN == "arn:aws:events:us-east-1:111122223333:event-bus/ops" }},
		{name: "event bus name instead of ARN", env: map[string]string{"EVENT_BUS_ARN": "ops"}, wantErr: "EVENT_BUS_ARN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := SettingsFromEnv(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(s) {
				t.Errorf("settings %+v", s)
			}
		})
	}
}

func TestInScope(t *testing.T) {
	store := kmsevent.Event{CustomKeyStoreID: "cks-1"}
	tests := []struct {
		ev   kmsevent.Event
		key  check.Key
		want bool
	}{
		{store, check.Key{State: "Unavailable", KeyStoreID: "cks-1"}, true},
		{store, check.Key{State: "Enabled", KeyStoreID: "cks-2"}, false},
		{store, check.Key{State: "Enabled"}, false},
		{store, check.Key{}, true}, // not described: judge it
		{kmsevent.Event{KeyARNs: []string{"arn"}, CustomKeyStoreID: "cks-1"}, check.Key{State: "Enabled"}, true},
		{kmsevent.Event{}, check.Key{State: "Enabled"}, true},
	}
	for _, tt := range tests {
		if got := inScope(tt.ev, tt.key); got != tt.want {
			t.Errorf("inScope(%+v, %+v) = %v, want %v", tt.ev, tt.key, got, tt.want)
		}
	}
}
