package monitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/fsx"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/securityhub"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/fsxkms/fsxkms/pkg/alert"
	"github.com/fsxkms/fsxkms/pkg/inventory"
	sh "github.com/fsxkms/fsxkms/pkg/securityhub"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// NewAWS builds a Monitor on real AWS clients from the default credential
// chain, with the SDK's adaptive retry mode so KMS and FSx throttling slows
// the monitor down instead of failing it. Endpoints follow the SDK's standard
// AWS_ENDPOINT_URL_<SERVICE> variables. optFns adjust the SDK config (the CLI
// sets the region with them).
func NewAWS(ctx context.Context, s Settings, function string, optFns ...func(*config.LoadOptions) error) (*Monitor, error) {
	optFns = append([]func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return Retryer(false) }),
	}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, optFns...)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	if cfg.Region == "" {
		return nil, ErrNoRegion
	}
	kmsClient := kms.NewFromConfig(cfg)
	log := slog.Default()
	var pub alert.Publisher = alert.NewWriter(os.Stdout)
	if s.TopicARN != "" {
		pub = alert.NewSNS(sns.NewFromConfig(cfg), s.TopicARN, alert.WithLogger(log))
	}
	if s.EventBusARN != "" {
		pub = alert.All(pub, alert.NewEventBridge(eventbridge.NewFromConfig(cfg), s.EventBusARN, alert.WithLogger(log)))
	}
	pub = alert.Filter(pub, s.MinSeverity, alert.WithLogger(log))
	var st *state.Table
	if s.StateTable != "" {
		st = &state.Table{Client: dynamodb.NewFromConfig(cfg), Name: s.StateTable,
			Options: state.Options{RemindAfter: s.RemindAfter}}
	}
	var tracker Tracker
	var hub *sh.Exporter
	if s.SecurityHub && st != nil {
		hub = &sh.Exporter{Client: securityhub.NewFromConfig(cfg), Region: cfg.Region,
			Caller: sts.NewFromConfig(cfg), Log: log, Stack: s.Stack, Function: function}
		tracker = SecurityHubTracker{hub}
	}
	source := func(f *fsx.Client, k *kms.Client, own bool) *inventory.Source {
		src := &inventory.Source{FSx: f, KMS: k, TTL: s.TTL, NoCache: s.TTL == 0, CallTimeout: s.CallTimeout}
		if own {
			src.ExtraKeys, src.NoDiscovery = s.ExtraKeys, !s.Discovery
		}
		return src
	}
	var readers Readers
	var org *OrgSweep
	if s.Central {
		// The organization deployment: this account's own events and keys
		// with the function's role, every other account's with its read
		// role. GetCallerIdentity needs no permission.
		id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return nil, fmt.Errorf("DEPLOYMENT=central: find this account (sts:GetCallerIdentity): %w", err)
		}
		own := aws.ToString(id.Account)
		if hub != nil {
			hub.SetCaller(id) // the exporter need not ask STS again
		}
		readers = &Org{Config: cfg, Own: own, RoleName: s.ReadRoleName, Inventory: source}
		regions := s.Regions
		if len(regions) == 0 {
			regions = []string{cfg.Region}
		}
		org = &OrgSweep{Own: own, Members: s.MemberAccounts, Regions: regions, QueueURL: s.SweepQueueURL,
			SQS: sqs.NewFromConfig(cfg)}
		if len(s.MemberAccounts) == 0 {
			org.Organizations = organizations.NewFromConfig(cfg)
		}
	}
	if tracker != nil && s.Central {
		// Security Hub takes a finding only from the account it is about:
		// a member's findings are imported with its read role.
		org, partition := readers.(*Org), hub.Partition // an organization is in one partition
		tracker = &OrgTracker{Own: org.Own, Central: tracker, New: func(ctx context.Context, account, region string) (Tracker, error) {
			mcfg, _, err := org.ConfigFor(ctx, account, region)
			if err != nil {
				return nil, err
			}
			// The read role's credentials are the member account's own.
			return SecurityHubTracker{&sh.Exporter{Client: securityhub.NewFromConfig(mcfg), Region: region,
				Account: account, Partition: partition, Log: log, Stack: s.Stack, Function: function}}, nil
		}}
	}
	return &Monitor{
		State:       st,
		Tracker:     tracker,
		Scope:       cfg.Region,
		Readers:     readers,
		Org:         org,
		Inventory:   source(fsx.NewFromConfig(cfg), kmsClient, true),
		KMS:         kmsClient,
		Alerts:      pub,
		Log:         log,
		Function:    function,
		Stack:       s.Stack,
		Principals:  s.Principals,
		Concurrency: s.Concurrency,
		KeyBudget:   s.KeyBudget,
	}, nil
}

// SecurityHubTracker is the Security Hub export as the monitor's Tracker.
type SecurityHubTracker struct{ *sh.Exporter }

// Track queues the judged key's findings.
func (x SecurityHubTracker) Track(ctx context.Context, t Tracked) error {
	j := sh.Judged{Report: t.Report, Closed: t.Closed, Now: t.Now}
	for _, o := range t.Open {
		j.Open = append(j.Open, sh.Open{ID: o.ID, FirstSeen: o.FirstSeen, Finding: o.Finding})
	}
	return x.Add(ctx, j)
}

// OrgTracker is the organization deployment's Tracker: a key of the
// monitor's own account goes to Central, a key of another account to that
// account's own Tracker, made by New once per account and Region (for
// Security Hub, an exporter acting with the account's read role).
type OrgTracker struct {
	Own     string
	Central Tracker
	New     func(ctx context.Context, account, region string) (Tracker, error)

	mu  sync.Mutex
	per map[string]Tracker
}

// Track hands t to the Tracker of its key's account and Region.
func (o *OrgTracker) Track(ctx context.Context, t Tracked) error {
	k := t.Report.Key
	if k.Account == "" || k.Account == o.Own {
		return o.Central.Track(ctx, t)
	}
	id := k.Account + "/" + k.Region
	o.mu.Lock()
	tr, ok := o.per[id]
	o.mu.Unlock()
	if !ok {
		var err error
		if tr, err = o.New(ctx, k.Account, k.Region); err != nil {
			if re, ok := errors.AsType[*RoleError](err); ok && re.Refused() {
				// The account's MONITOR_ACCESS_DENIED alert says it; the
				// findings wait until the role is back.
				slog.Warn("findings not tracked: the account's read role is refused", "account", k.Account, "role", re.Role)
				return nil
			}
			return fmt.Errorf("track findings of account %s in %s: %w", k.Account, k.Region, err)
		}
		o.mu.Lock()
		if o.per == nil {
			o.per = map[string]Tracker{}
		}
		o.per[id] = tr
		o.mu.Unlock()
	}
	return tr.Track(ctx, t)
}

// Flush flushes every account's Tracker.
func (o *OrgTracker) Flush(ctx context.Context) error {
	errs := []error{o.Central.Flush(ctx)}
	o.mu.Lock()
	trs := make([]Tracker, 0, len(o.per))
	for _, tr := range o.per {
		trs = append(trs, tr)
	}
	o.mu.Unlock()
	for _, tr := range trs {
		errs = append(errs, tr.Flush(ctx))
	}
	return errors.Join(errs...)
}

// ErrNoRegion is returned by NewAWS when the SDK configuration names no
// AWS Region (neither AWS_REGION nor a profile sets one).
var ErrNoRegion = errors.New("no AWS region: set AWS_REGION")

// MaxAttempts is how many times the monitor's AWS clients try a call that
// fails with a retryable error (throttling, 5xx) before returning it.
const MaxAttempts = 5

// Retryer is the retry policy of the monitor's AWS clients: the SDK's
// adaptive mode with MaxAttempts attempts. With fast (for tests) it keeps
// the attempts but never waits: no backoff between attempts and no
// client-side rate limiting after throttling.
func Retryer(fast bool) aws.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		if fast {
			o.RequestCost = 0
		}
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = MaxAttempts
			if fast {
				so.Backoff = noDelay{}
			}
		})
	})
}

// noDelay is a backoff that never waits.
type noDelay struct{}

func (noDelay) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }
