package scenario

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// The demo world: account, region and three keys with fixed ids, seeded into
// local-kms so that the sample events in events/ name keys that exist.
const (
	Account = "111122223333"
	Region  = "us-east-1"

	// ProdKeyID protects four file systems (one of each type) and a backup.
	ProdKeyID = "1234abcd-12ab-34cd-56ef-1234567890ab"
	// BackupKeyID protects backups copied from another Region.
	BackupKeyID = "2234abcd-12ab-34cd-56ef-1234567890ab"
	// OtherKeyID is not used by FSx: events on it are ignored.
	OtherKeyID = "3234abcd-12ab-34cd-56ef-1234567890ab"

	// FSxGrantee is the grantee of the demo's FSx-style grants. No public
	// source documents the grantee of FSx's real grants; see check.IsFSxGrant.
	FSxGrantee = "arn:aws:iam::111122223333:role/aws-service-role/fsx.amazonaws.com/AWSServiceRoleForAmazonFSx"
)

// KeyARN returns the ARN of a demo key id.
func KeyARN(id string) string {
	return fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", Region, Account, id)
}

// Aliases of the demo keys.
var Aliases = map[string]string{
	ProdKeyID:   "alias/fsx-prod",
	BackupKeyID: "alias/fsx-backup-copies",
	OtherKeyID:  "alias/app-secrets",
}

// SeedYAML is a local-kms seed file (KMS_SEED_PATH) that creates the three
// demo keys with their fixed ids. local-kms seeds cannot carry policies:
// Setup puts them.
func SeedYAML() []byte {
	var b strings.Builder
	b.WriteString("Keys:\n  Symmetric:\n    Aes:\n")
	for i, id := range []string{ProdKeyID, BackupKeyID, OtherKeyID} {
		fmt.Fprintf(&b, "      - Metadata:\n          KeyId: %s\n          Description: fsxkms demo key %d\n", id, i+1)
		fmt.Fprintf(&b, "        BackingKeys:\n          - %s\n", strings.Repeat(fmt.Sprintf("%02x", 0x11*(i+1)), 32))
	}
	b.WriteString("Aliases:\n")
	for _, id := range []string{ProdKeyID, BackupKeyID, OtherKeyID} {
		fmt.Fprintf(&b, "  - AliasName: %s\n    TargetKeyId: %s\n", Aliases[id], id)
	}
	return []byte(b.String())
}

// Policy returns an FSx-style key policy: the aws/fsx pattern (any principal
// of the account, via FSx) plus a key administration statement that grants
// no cryptographic use.
// With dropDecrypt the FSx statement no longer allows kms:Decrypt: the
// breaking PutKeyPolicy of the demo.
func Policy(dropDecrypt bool) string {
	actions := []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant", "kms:ListGrants", "kms:DescribeKey"}
	if dropDecrypt {
		actions = append(actions[:1], actions[2:]...)
	}
	doc := map[string]any{
		"Version": "2012-10-17",
		"Id":      "fsxkms-demo",
		"Statement": []any{
			map[string]any{
				"Sid":       "AllowAccessThroughFSx",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": "*"},
				"Action":    actions,
				"Resource":  "*",
				"Condition": map[string]any{"StringEquals": map[string]any{
					"kms:ViaService":    "fsx." + Region + ".amazonaws.com",
					"kms:CallerAccount": Account,
				}},
			},
			map[string]any{
				// The console's "key administrators" statement: it manages
				// the key but cannot use it for cryptography.
				"Sid":       "AllowKeyAdministration",
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": "arn:aws:iam::" + Account + ":root"},
				"Action": []string{"kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
					"kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
					"kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand"},
				"Resource": "*",
			},
		},
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return string(b)
}

// KMS is what Setup needs of a KMS client.
type KMS interface {
	PutKeyPolicy(ctx context.Context, in *kms.PutKeyPolicyInput, optFns ...func(*kms.Options)) (*kms.PutKeyPolicyOutput, error)
	EnableKey(ctx context.Context, in *kms.EnableKeyInput, optFns ...func(*kms.Options)) (*kms.EnableKeyOutput, error)
	CreateGrant(ctx context.Context, in *kms.CreateGrantInput, optFns ...func(*kms.Options)) (*kms.CreateGrantOutput, error)
}

// Setup puts the demo policies on the seeded keys, enables them and gives
// each FSx key one FSx-style grant per file system. It returns the grant ids
// by key ARN.
func Setup(ctx context.Context, api KMS) (map[string][]string, error) {
	grants := map[string][]string{}
	for _, id := range []string{ProdKeyID, BackupKeyID, OtherKeyID} {
		arn := KeyARN(id)
		if _, err := api.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(arn)}); err != nil {
			return nil, fmt.Errorf("scenario: enable %s: %w", arn, err)
		}
		if _, err := api.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(arn), PolicyName: aws.String("default"), Policy: aws.String(Policy(false))}); err != nil {
			return nil, fmt.Errorf("scenario: put policy on %s: %w", arn, err)
		}
	}
	for _, r := range Resources() {
		if r.KeyID == "" {
			continue
		}
		arn := KeyARN(r.KeyID)
		out, err := api.CreateGrant(ctx, &kms.CreateGrantInput{
			KeyId:             aws.String(arn),
			GranteePrincipal:  aws.String(FSxGrantee),
			RetiringPrincipal: aws.String(FSxGrantee),
			Name:              aws.String("FSx-" + r.ID),
			Operations: []types.GrantOperation{types.GrantOperationDecrypt, types.GrantOperationEncrypt,
				types.GrantOperationGenerateDataKeyWithoutPlaintext, types.GrantOperationReEncryptFrom,
				types.GrantOperationReEncryptTo, types.GrantOperationDescribeKey, types.GrantOperationCreateGrant,
				types.GrantOperationRetireGrant},
		})
		if err != nil {
			return nil, fmt.Errorf("scenario: grant on %s for %s: %w", arn, r.ID, err)
		}
		grants[arn] = append(grants[arn], aws.ToString(out.GrantId))
	}
	return grants, nil
}
