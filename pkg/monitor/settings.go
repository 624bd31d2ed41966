package monitor

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fsxkms/fsxkms/internal/awsid"
	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/inventory"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// Settings are the monitor's knobs, read from the environment by both
// Lambda functions and the CLI.
type Settings struct {
	TopicARN    string         // ALERT_TOPIC_ARN; empty writes alerts to stdout
	MinSeverity alert.Severity // MIN_SEVERITY; default INFO
	ExtraKeys   []string       // FSX_KEY_ARNS, comma-separated key ARNs
	Discovery   bool           // FSX_DISCOVERY=on|off; default on
	TTL         time.Duration  // INVENTORY_TTL, e.g. 5m; default inventory.DefaultTTL; 0 means no cache
	Principals  []string       // FSX_PRINCIPALS, comma-separated ARNs that manage FSx
	Concurrency int            // SWEEP_CONCURRENCY; default DefaultConcurrency
	Summary     SummaryMode    // SWEEP_SUMMARY=auto|always|never; default auto
	// CallTimeout bounds each FSx call (FSX_CALL_TIMEOUT, 1s to 5m);
	// default inventory.DefaultCallTimeout.
	CallTimeout time.Duration
	// KeyBudget bounds the KMS reads of one key in a sweep
	// (SWEEP_KEY_BUDGET, 1s to 15m); default DefaultKeyBudget.
	KeyBudget time.Duration
	// Stack names the deployment in metrics (FSXKMS_STACK).
	Stack string
	// Central is set by DEPLOYMENT=central: the organization deployment,
	// which reads member accounts with their read role (default: single,
	// this account only).
	Central bool
	// ReadRoleName is the member accounts' read role (READ_ROLE_NAME,
	// default fsxkms-read).
	ReadRoleName string
	// MemberAccounts lists the accounts the organization's sweep covers
	// (MEMBER_ACCOUNTS); empty lists them with organizations:ListAccounts.
	MemberAccounts []string
	// Regions lists the Regions the organization's sweep covers (REGIONS);
	// empty means the function's own.
	Regions []string
	// SweepQueueURL is the queue of the organization's sweep work items
	// (SWEEP_QUEUE_URL).
	SweepQueueURL string
	// StateTable names the DynamoDB table of alert state (STATE_TABLE);
	// empty alerts on every finding every time.
	StateTable string
	// SecurityHub imports the problems tracked in STATE_TABLE into AWS
	// Security Hub as findings (SECURITY_HUB=on|off; default off).
	SecurityHub bool
	// EventBusARN is an EventBridge bus every alert is also put on
	// (EVENT_BUS_ARN); empty puts none.
	EventBusARN string
	// RemindAfter is how long an open problem waits for a reminder
	// (REMIND_AFTER, e.g. 24h; 0 means never); default
	// state.DefaultRemindAfter. Negative means never.
	RemindAfter time.Duration
}

// SettingsFromEnv reads Settings; a malformed value is an error naming the
// variable, never silently replaced by a default.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := Settings{
		TopicARN:       strings.TrimSpace(getenv("ALERT_TOPIC_ARN")),
		MinSeverity:    alert.Info,
		Discovery:      true,
		TTL:            inventory.DefaultTTL,
		Concurrency:    DefaultConcurrency,
		Summary:        SummaryAuto,
		CallTimeout:    inventory.DefaultCallTimeout,
		KeyBudget:      DefaultKeyBudget,
		StateTable:     strings.TrimSpace(getenv("STATE_TABLE")),
		Stack:          strings.TrimSpace(getenv("FSXKMS_STACK")),
		ReadRoleName:   strings.TrimSpace(getenv("READ_ROLE_NAME")),
		MemberAccounts: list(getenv("MEMBER_ACCOUNTS")),
		Regions:        list(getenv("REGIONS")),
		SweepQueueURL:  strings.TrimSpace(getenv("SWEEP_QUEUE_URL")),
		EventBusARN:    strings.TrimSpace(getenv("EVENT_BUS_ARN")),
		RemindAfter:    state.DefaultRemindAfter,
		ExtraKeys:      list(getenv("FSX_KEY_ARNS")),
		Principals:     list(getenv("FSX_PRINCIPALS")),
	}
	if s.TopicARN != "" {
		if err := alert.CheckTopicARN(s.TopicARN); err != nil {
			return s, fmt.Errorf("ALERT_TOPIC_ARN: %w", err)
		}
	}
	if v := getenv("MIN_SEVERITY"); v != "" {
		sev, err := alert.ParseSeverity(v)
		if err != nil {
			return s, fmt.Errorf("MIN_SEVERITY: %w", err)
		}
		s.MinSeverity = sev
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("FSX_DISCOVERY"))); v {
	case "", "on", "true":
	case "off", "false":
		s.Discovery = false
	default:
		return s, fmt.Errorf("FSX_DISCOVERY=%q: want on or off", v)
	}
	if v := getenv("INVENTORY_TTL"); v != "" {
		// 0 means no cache: every event lists FSx (see Source.NoCache).
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return s, fmt.Errorf("INVENTORY_TTL=%q: want a duration such as 5m, or 0 for no cache", v)
		}
		s.TTL = d
	}
	var err error
	if s.CallTimeout, err = duration(getenv, "FSX_CALL_TIMEOUT", s.CallTimeout, time.Second, 5*time.Minute); err != nil {
		return s, err
	}
	if s.KeyBudget, err = duration(getenv, "SWEEP_KEY_BUDGET", s.KeyBudget, time.Second, 15*time.Minute); err != nil {
		return s, err
	}
	if v := strings.TrimSpace(getenv("REMIND_AFTER")); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return s, fmt.Errorf("REMIND_AFTER=%q: want a duration such as 24h, or 0 for no reminders", v)
		}
		s.RemindAfter = d
		if d == 0 {
			s.RemindAfter = -1 // never
		}
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("SECURITY_HUB"))); v {
	case "", "off", "false":
	case "on", "true":
		s.SecurityHub = true
	default:
		return s, fmt.Errorf("SECURITY_HUB=%q: want on or off", v)
	}
	if s.SecurityHub && s.StateTable == "" {
		return s, fmt.Errorf("SECURITY_HUB=on needs STATE_TABLE: the findings follow fsxkms's alert state")
	}
	if s.EventBusARN != "" {
		if err := alert.CheckEventBusARN(s.EventBusARN); err != nil {
			return s, fmt.Errorf("EVENT_BUS_ARN: %w", err)
		}
	}
	if s.StateTable != "" && !validTableName(s.StateTable) {
		return s, fmt.Errorf("STATE_TABLE=%q: want a DynamoDB table name (3 to 255 of a-z, A-Z, 0-9, _ - .) or its ARN", s.StateTable)
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("DEPLOYMENT"))); v {
	case "", "single":
	case "central":
		s.Central = true
	default:
		return s, fmt.Errorf("DEPLOYMENT=%q: want single or central", v)
	}
	if s.ReadRoleName == "" {
		s.ReadRoleName = DefaultReadRoleName
	}
	if !validRoleName(s.ReadRoleName) {
		return s, fmt.Errorf("READ_ROLE_NAME=%q: want an IAM role name (1 to 64 of a-z, A-Z, 0-9, +=,.@_-)", s.ReadRoleName)
	}
	for _, a := range s.MemberAccounts {
		if !awsid.Account(a) {
			return s, fmt.Errorf("MEMBER_ACCOUNTS: %q is not a 12-digit account id", a)
		}
	}
	if v := getenv("SWEEP_CONCURRENCY"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxConcurrency {
			return s, fmt.Errorf("SWEEP_CONCURRENCY=%q: want a number from 1 to %d", v, MaxConcurrency)
		}
		s.Concurrency = n
	}
	if v := getenv("SWEEP_SUMMARY"); v != "" {
		m, err := ParseSummaryMode(v)
		if err != nil {
			return s, fmt.Errorf("SWEEP_SUMMARY: %w", err)
		}
		s.Summary = m
	}
	for _, k := range s.ExtraKeys {
		if !strings.HasPrefix(k, "arn:") || !strings.Contains(k, ":key/") {
			return s, fmt.Errorf("FSX_KEY_ARNS: %q is not a key ARN (arn:aws:kms:<region>:<account>:key/<id>)", k)
		}
	}
	if !s.Discovery && len(s.ExtraKeys) == 0 {
		return s, fmt.Errorf("FSX_DISCOVERY=off needs FSX_KEY_ARNS: there would be no key to watch")
	}
	return s, nil
}

// duration reads the duration variable name, def when unset, and fails
// naming it when it is malformed or outside [lo, hi].
func duration(getenv func(string) string, name string, def, lo, hi time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < lo || d > hi {
		return def, fmt.Errorf("%s=%q: want a duration from %s to %s, such as %s", name, v, lo, hi, def)
	}
	return d, nil
}

// DefaultReadRoleName is the member accounts' read role when
// READ_ROLE_NAME is unset.
const DefaultReadRoleName = "fsxkms-read"

func validRoleName(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+=,.@_-", r)) {
			return false
		}
	}
	return true
}

// validTableName reports whether s is a DynamoDB table name or table ARN.
func validTableName(s string) bool {
	if strings.HasPrefix(s, "arn:") {
		return strings.Contains(s, ":dynamodb:") && strings.Contains(s, ":table/")
	}
	if len(s) < 3 || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return true
}

func list(v string) []string {
	var out []string
	for p := range strings.SplitSeq(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
