package scenario

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// StepKMS is what the demo steps need of a KMS client to make their changes.
type StepKMS interface {
	PutKeyPolicy(ctx context.Context, in *kms.PutKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.PutKeyPolicyOutput, error)
	DisableKey(ctx context.Context, in *kms.DisableKeyInput, optFns ...func(*kms.Options)) (*kms.DisableKeyOutput, error)
	EnableKey(ctx context.Context, in *kms.EnableKeyInput, optFns ...func(*kms.Options)) (*kms.EnableKeyOutput, error)
	ScheduleKeyDeletion(ctx context.Context, in *kms.ScheduleKeyDeletionInput, optFns ...func(*kms.Options)) (*kms.ScheduleKeyDeletionOutput, error)
	CancelKeyDeletion(ctx context.Context, in *kms.CancelKeyDeletionInput, optFns ...func(*kms.Options)) (*kms.CancelKeyDeletionOutput, error)
	RevokeGrant(ctx context.Context, in *kms.RevokeGrantInput, optFns ...func(*kms.Options)) (*kms.RevokeGrantOutput, error)
}

// Step is one moment of the demo: a real change on the local stack, then the
// event CloudTrail would deliver for it, or a scheduled sweep.
type Step struct {
	Title string
	// Change makes the change on the stack; nil for a call KMS refused, a
	// redelivery or a sweep.
	Change func(ctx context.Context, api StepKMS) error
	// Event is what EventBridge delivers to kms-events; nil for a sweep.
	Event []byte
	// Sweep runs the scheduled sweep instead of delivering an event.
	Sweep bool
	// Want lists the alerts the monitor, with its alert state, should
	// send, in order, by their first finding's code (RESOLVED for a
	// recovery, SWEEP_SUMMARY for a sweep's summary); empty means silence.
	Want []string
}

// Demo returns the demo's steps, as the monitor with its alert state
// (STATE_TABLE) answers them. grants are the grant ids Setup created.
func Demo(grants map[string][]string) []Step {
	prod, backup, other := KeyARN(ProdKeyID), KeyARN(BackupKeyID), KeyARN(OtherKeyID)
	id := func(arn string) *string { return aws.String(arn) }
	revoked := ""
	if g := grants[backup]; len(g) > 0 {
		revoked = g[0]
	}
	seq := 100
	event := func(name, key string, edit func(*Call)) []byte {
		seq++
		c := CallFor(name, key)
		c.Seq = seq
		if edit != nil {
			edit(&c)
		}
		return APICall(c)
	}
	disable := event("DisableKey", prod, nil)
	return []Step{
		{
			Title: "alice replaces the policy of alias/fsx-prod; the new one drops kms:Decrypt from the FSx statement",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id(prod), PolicyName: aws.String("default"), Policy: aws.String(Policy(true))})
				return err
			},
			Event: event("PutKeyPolicy", prod, nil),
			Want:  []string{"REQUIRED_PERMISSION_DENIED"},
		},
		{
			Title: "alice puts the FSx statement back (PutKeyPolicy): the problem is over",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id(prod), PolicyName: aws.String("default"), Policy: aws.String(Policy(false))})
				return err
			},
			Event: event("PutKeyPolicy", prod, func(c *Call) { c.Params["policy"] = Policy(false) }),
			Want:  []string{"RESOLVED"},
		},
		{
			Title: "alice disables alias/fsx-prod",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: disable,
			Want:  []string{"KEY_DISABLED"},
		},
		{
			Title: "EventBridge delivers the same DisableKey event again: already said, silence",
			Event: disable,
		},
		{
			Title: "the scheduled sweep runs: the key is still disabled, already said; its first summary goes out",
			Sweep: true,
			Want:  []string{"SWEEP_SUMMARY"},
		},
		{
			Title: "the next sweep: nothing changed, silence",
			Sweep: true,
		},
		{
			Title: "alice enables alias/fsx-prod again",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: event("EnableKey", prod, nil),
			Want:  []string{"RESOLVED"},
		},
		{
			Title: "alice revokes the only FSx grant on alias/fsx-backup-copies",
			Change: func(ctx context.Context, api StepKMS) error {
				if revoked == "" {
					return fmt.Errorf("no grant to revoke on %s", backup)
				}
				_, err := api.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: id(backup), GrantId: aws.String(revoked)})
				return err
			},
			Event: event("RevokeGrant", backup, func(c *Call) { c.Params["grantId"] = revoked }),
			Want:  []string{"GRANT_REVOKED"},
		},
		{
			Title: "alice schedules alias/fsx-prod for deletion in 7 days",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id(prod), PendingWindowInDays: aws.Int32(7)})
				return err
			},
			Event: event("ScheduleKeyDeletion", prod, nil),
			Want:  []string{"KEY_PENDING_DELETION"},
		},
		{
			Title: "alice cancels the deletion (resolved); as in AWS, the key is left Disabled (new)",
			Change: func(ctx context.Context, api StepKMS) error {
				if _, err := api.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: id(prod)}); err != nil {
					return err
				}
				// local-kms leaves the key Enabled; AWS leaves it Disabled.
				_, err := api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: event("CancelKeyDeletion", prod, nil),
			Want:  []string{"KEY_DISABLED", "RESOLVED"},
		},
		{
			Title: "alice enables alias/fsx-prod",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: event("EnableKey", prod, nil),
			Want:  []string{"RESOLVED"},
		},
		{
			Title: "mallory tries to disable alias/fsx-prod and is refused",
			Event: event("DisableKey", prod, func(c *Call) {
				c.Actor, c.ErrorCode = MalloryARN, "AccessDenied"
				c.ErrorMsg = "User: " + MalloryARN + " is not authorized to perform: kms:DisableKey on resource: " + prod
			}),
			Want: []string{"ATTEMPTED_CHANGE_DENIED"},
		},
		{
			Title: "alice disables alias/app-secrets, a key FSx does not use",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id(other)})
				return err
			},
			Event: event("DisableKey", other, nil),
		},
	}
}
