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
// event CloudTrail would deliver for it.
type Step struct {
	Title string
	// Change makes the change on the stack; nil for a call KMS refused.
	Change func(ctx context.Context, api StepKMS) error
	Event  []byte
	// Want is the finding code the monitor should raise first; "" means no
	// alert (the key is compliant or not used by FSx).
	Want string
}

// Demo returns the demo's steps. grants are the grant ids Setup created.
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
	return []Step{
		{
			Title: "alice replaces the policy of alias/fsx-prod; the new one drops kms:Decrypt from the FSx statement",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id(prod), PolicyName: aws.String("default"), Policy: aws.String(Policy(true))})
				return err
			},
			Event: event("PutKeyPolicy", prod, nil),
			Want:  "REQUIRED_PERMISSION_DENIED",
		},
		{
			Title: "alice puts the FSx statement back (PutKeyPolicy): compliant again, nothing to say",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: id(prod), PolicyName: aws.String("default"), Policy: aws.String(Policy(false))})
				return err
			},
			Event: event("PutKeyPolicy", prod, func(c *Call) { c.Params["policy"] = Policy(false) }),
		},
		{
			Title: "alice disables alias/fsx-prod",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: event("DisableKey", prod, nil),
			Want:  "KEY_DISABLED",
		},
		{
			Title: "alice enables alias/fsx-prod again",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: event("EnableKey", prod, nil),
			Want:  "RESTORED",
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
			Want:  "GRANT_REVOKED",
		},
		{
			Title: "alice schedules alias/fsx-prod for deletion in 7 days",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: id(prod), PendingWindowInDays: aws.Int32(7)})
				return err
			},
			Event: event("ScheduleKeyDeletion", prod, nil),
			Want:  "KEY_PENDING_DELETION",
		},
		{
			Title: "alice cancels the deletion; as in AWS, the key is left Disabled",
			Change: func(ctx context.Context, api StepKMS) error {
				if _, err := api.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: id(prod)}); err != nil {
					return err
				}
				// local-kms leaves the key Enabled; AWS leaves it Disabled.
				_, err := api.DisableKey(ctx, &kms.DisableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: event("CancelKeyDeletion", prod, nil),
			Want:  "KEY_DISABLED",
		},
		{
			Title: "alice enables alias/fsx-prod",
			Change: func(ctx context.Context, api StepKMS) error {
				_, err := api.EnableKey(ctx, &kms.EnableKeyInput{KeyId: id(prod)})
				return err
			},
			Event: event("EnableKey", prod, nil),
			Want:  "RESTORED",
		},
		{
			Title: "mallory tries to disable alias/fsx-prod and is refused",
			Event: event("DisableKey", prod, func(c *Call) {
				c.Actor, c.ErrorCode = MalloryARN, "AccessDenied"
				c.ErrorMsg = "User: " + MalloryARN + " is not authorized to perform: kms:DisableKey on resource: " + prod
			}),
			Want: "ATTEMPTED_CHANGE_DENIED",
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
