package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/fsxkms/fsxkms/internal/devstack/kmsproxy"
	"github.com/fsxkms/fsxkms/internal/localrun"
	"github.com/fsxkms/fsxkms/internal/scenario"
	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// world is the local stack seeded with the demo world, and what invoke
// needs to change it and to put it back.
type world struct {
	env *localrun.Env
	db  *dynamodb.Client
}

// change is how invoke makes one event's change on the local stack: the
// function re-reads the key as it is now, so the key must be as the event
// says it became.
type change struct {
	// apply makes the change on key (the event's key, or the demo's
	// production key for an event that names a custom key store) and says
	// in words what it did. Nil when the change cannot be made: then why
	// says why.
	apply func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error)
	why   string
	// before is the breaking event a restoring one undoes. Unless the
	// events are run in sequence (-keep), it is made and sent through the
	// function first, so that the restoring event has a problem to
	// resolve.
	before string
}

// changes says, for every event name the monitor acts on (a test checks
// them against the decoder's table), how invoke reproduces it.
var changes = map[string]change{
	"PutKeyPolicy": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		if ev.Policy == "" {
			return "", errNotReproduced("the event carries no policy text")
		}
		_, err := w.env.KMS.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: &key, PolicyName: aws.String("default"),
			Policy: aws.String(ev.Policy), BypassPolicyLockoutSafetyCheck: ev.BypassPolicyLockoutSafetyCheck})
		return "put the event's policy on the key", err
	}},
	"DisableKey": {apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		_, err := w.env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &key})
		return "disabled the key", err
	}},
	"EnableKey": {before: "DisableKey", apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		_, err := w.env.KMS.EnableKey(ctx, &kms.EnableKeyInput{KeyId: &key})
		return "enabled the key", err
	}},
	"ScheduleKeyDeletion": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		days := int32(ev.PendingWindowInDays)
		if days < 7 || days > 30 {
			days = 30 // KMS's default
		}
		_, err := w.env.KMS.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: &key, PendingWindowInDays: &days})
		return fmt.Sprintf("scheduled the key's deletion in %d days", days), err
	}},
	"CancelKeyDeletion": {before: "ScheduleKeyDeletion", apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		if _, err := w.env.KMS.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &key}); err != nil {
			return "", err
		}
		// local-kms leaves the key Enabled; KMS leaves it Disabled.
		_, err := w.env.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: &key})
		return "cancelled the key's deletion; the key is left Disabled, as KMS does (local-kms would leave it Enabled)", err
	}},
	"DeleteKey":        {apply: deleteKey},
	"KMS CMK Deletion": {apply: deleteKey},
	"DeleteImportedKeyMaterial": {apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		if _, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{Origin: "EXTERNAL", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"}); err != nil {
			return "", err
		}
		_, err := w.env.KMS.DeleteImportedKeyMaterial(ctx, &kms.DeleteImportedKeyMaterialInput{KeyId: &key})
		return "made the key one with imported material (simulated by the KMS proxy: the demo key's origin is AWS_KMS) " +
			"and deleted the material: the key is PendingImport", err
	}},
	"DeleteExpiredKeyMaterial":             {apply: expireMaterial},
	"KMS Imported Key Material Expiration": {apply: expireMaterial},
	"ImportKeyMaterial": {before: "DeleteImportedKeyMaterial", apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		_, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{Origin: "EXTERNAL", ExpirationModel: "KEY_MATERIAL_DOES_NOT_EXPIRE"})
		return "imported the key's material again, without expiry (simulated by the KMS proxy): the key is Enabled", err
	}},
	"DisconnectCustomKeyStore": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		store := storeOf(ev)
		if _, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{Origin: "AWS_CLOUDHSM", CustomKeyStoreID: store}); err != nil {
			return "", err
		}
		_, err := w.env.KMS.DisconnectCustomKeyStore(ctx, &kms.DisconnectCustomKeyStoreInput{CustomKeyStoreId: &store})
		return fmt.Sprintf("put the key in custom key store %s and disconnected the store (simulated by the KMS proxy: local-kms has "+
			"no custom key stores): the key is Unavailable", store), err
	}},
	"ConnectCustomKeyStore": {before: "DisconnectCustomKeyStore", apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		store := storeOf(ev)
		if _, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{Origin: "AWS_CLOUDHSM", CustomKeyStoreID: store}); err != nil {
			return "", err
		}
		_, err := w.env.KMS.ConnectCustomKeyStore(ctx, &kms.ConnectCustomKeyStoreInput{CustomKeyStoreId: &store})
		return fmt.Sprintf("connected custom key store %s, which holds the key (simulated by the KMS proxy): the key is Enabled", store), err
	}},
	"UpdateCustomKeyStore": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		store := storeOf(ev)
		_, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{Origin: "AWS_CLOUDHSM", CustomKeyStoreID: store})
		return fmt.Sprintf("put the key in custom key store %s, connected (simulated by the KMS proxy: local-kms has no custom key "+
			"stores); the store's settings are not simulated, and take effect only when the store is reconnected", store), err
	}},
	"UpdatePrimaryRegion": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		_, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{KeyState: "Updating"})
		return "made the key Updating, as while its primary Region moves (simulated by the KMS proxy: local-kms has no multi-Region keys)", err
	}},
	"RevokeGrant": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		return w.endGrant(ev, key, "revoked", func(id string) error {
			_, err := w.env.KMS.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: &key, GrantId: &id})
			return err
		})
	}},
	"RetireGrant": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		return w.endGrant(ev, key, "retired", func(id string) error {
			_, err := w.env.KMS.RetireGrant(ctx, &kms.RetireGrantInput{KeyId: &key, GrantId: &id})
			return err
		})
	}},
	"CreateGrant": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		g, _, err := w.env.Stack.KMS.AddGrant(fsxGrant(key, ev.GrantID))
		return w.grantsLeft(key, "created the event's grant "+g.GrantId+" (FSx-style) on the key"), err
	}},
	"CreateAlias": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		alias, err := aliasOf(ev)
		if err != nil {
			return "", err
		}
		_, err = w.env.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: &key})
		if _, ok := errors.AsType[*types.AlreadyExistsException](err); ok {
			if _, err = w.env.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: &alias, TargetKeyId: &key}); err == nil {
				return alias + " already existed (the demo world has it); it names the key", nil
			}
		}
		return "created " + alias + " for the key", err
	}},
	"UpdateAlias": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, key string) (string, error) {
		alias, err := aliasOf(ev)
		if err != nil {
			return "", err
		}
		_, err = w.env.KMS.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: &alias, TargetKeyId: &key})
		return "pointed " + alias + " at the key", err
	}},
	"DeleteAlias": {apply: func(ctx context.Context, w *world, ev kmsevent.Event, _ string) (string, error) {
		alias, err := aliasOf(ev)
		if err != nil {
			return "", err
		}
		_, err = w.env.KMS.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: &alias})
		return "deleted " + alias, err
	}},
	"EnableKeyRotation": {apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		_, err := w.env.KMS.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: &key})
		return "turned on the key's automatic rotation", err
	}},
	"DisableKeyRotation": {apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		_, err := w.env.KMS.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: &key})
		return "turned off the key's automatic rotation", err
	}},
	"TagResource": {apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		_, err := w.env.KMS.TagResource(ctx, &kms.TagResourceInput{KeyId: &key, Tags: []types.Tag{{TagKey: aws.String(sampleTag), TagValue: aws.String("storage")}}})
		return "tagged the key " + sampleTag + "=storage (the sample's tag; the decoded event does not carry its tags)", err
	}},
	"UntagResource": {apply: func(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
		_, err := w.env.KMS.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &key, TagKeys: []string{sampleTag}})
		return "removed the key's tag " + sampleTag + " (the sample's tag; the decoded event does not carry its tag keys)", err
	}},
	"RotateKeyOnDemand": {why: "local-kms has no RotateKeyOnDemand; rotation keeps the old key material, so nothing the function reads changes"},
	"RotateKey":         {why: "KMS's own rotation is not made by local-kms; it keeps the old key material, so nothing the function reads changes"},
	"KMS CMK Rotation":  {why: "KMS's own rotation is not made by local-kms; it keeps the old key material, so nothing the function reads changes"},
	"ReplicateKey":      {why: "local-kms has no multi-Region keys to replicate; the primary key, which the function reads, is unchanged by a replica"},
}

// sampleTag is the tag key of the TagResource and UntagResource samples.
const sampleTag = "owner"

// errNotReproduced is an apply that cannot make its change for a reason
// other than an error of the local stack.
type errNotReproduced string

func (e errNotReproduced) Error() string { return string(e) }

func deleteKey(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
	_, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{Deleted: true})
	return "deleted the key, as KMS does when its waiting period ends (simulated by the KMS proxy: local-kms deletes a key " +
		"only 7 days after ScheduleKeyDeletion at the earliest)", err
}

func expireMaterial(ctx context.Context, w *world, _ kmsevent.Event, key string) (string, error) {
	_, err := w.env.Stack.KMS.Simulate(key, kmsproxy.Simulation{Origin: "EXTERNAL", KeyState: "PendingImport"})
	return "made the key one whose imported material expired (simulated by the KMS proxy: the demo key's origin is AWS_KMS): " +
		"the key is PendingImport", err
}

// storeOf is the custom key store of ev, or the samples' one.
func storeOf(ev kmsevent.Event) string {
	if ev.CustomKeyStoreID != "" {
		return ev.CustomKeyStoreID
	}
	return "cks-1234567890abcdef0"
}

func aliasOf(ev kmsevent.Event) (string, error) {
	for _, a := range ev.Aliases {
		if i := strings.Index(a, "alias/"); i >= 0 {
			return a[i:], nil
		}
	}
	return "", errNotReproduced("the event names no alias")
}

// fsxGrant is a grant like those the demo world gives FSx, with id (empty:
// a new one).
func fsxGrant(key, id string) kmsproxy.Grant {
	return kmsproxy.Grant{KeyId: key, GrantId: id, Name: "FSx-invoke", GranteePrincipal: scenario.FSxGrantee, RetiringPrincipal: scenario.FSxGrantee,
		Operations: []string{"Decrypt", "Encrypt", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "DescribeKey", "CreateGrant", "RetireGrant"}}
}

// grantOfEvent gives key the grant ev removes, so that the revocation it
// records can be made; it returns the grant's id.
func (w *world) grantOfEvent(ev kmsevent.Event, key string) (string, error) {
	if ev.GrantID == "" {
		return "", errNotReproduced("the event names no grant")
	}
	if slices.ContainsFunc(w.env.Stack.KMS.Grants(key), func(g kmsproxy.Grant) bool { return g.GrantId == ev.GrantID }) {
		return ev.GrantID, nil
	}
	g, _, err := w.env.Stack.KMS.AddGrant(fsxGrant(key, ev.GrantID))
	return g.GrantId, err
}

// endGrant adds ev's grant to key as an FSx-style grant (grantOfEvent) and
// ends it with end, a RevokeGrant or RetireGrant call, and says so: the
// grant was ended (revoked, retired) and how many grants the key has left.
func (w *world) endGrant(ev kmsevent.Event, key, ended string, end func(id string) error) (string, error) {
	id, err := w.grantOfEvent(ev, key)
	if err != nil {
		return "", err
	}
	err = end(id)
	return w.grantsLeft(key, "added the event's grant "+id+" to the key as an FSx-style grant and "+ended+" it"), err
}

// grantsLeft adds to did how many grants the key has now.
func (w *world) grantsLeft(key, did string) string {
	return fmt.Sprintf("%s; the key has %d grants", did, len(w.env.Stack.KMS.Grants(key)))
}

// demoKeys are the demo world's keys, by ARN.
func demoKeys() []string {
	return []string{scenario.KeyARN(scenario.ProdKeyID), scenario.KeyARN(scenario.BackupKeyID), scenario.KeyARN(scenario.OtherKeyID)}
}

// reset puts the demo world back as localrun.Start seeded it and forgets
// the alert state, so that the next event is judged as the first one.
func (w *world) reset(ctx context.Context) error {
	c := w.env.KMS
	w.env.Stack.KMS.ClearSimulations()
	for _, arn := range demoKeys() {
		id := arn[strings.LastIndex(arn, "/")+1:]
		out, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &arn})
		if err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if out.KeyMetadata.KeyState == types.KeyStatePendingDeletion {
			if _, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: &arn}); err != nil {
				return fmt.Errorf("reset: %w", err)
			}
		}
		alias := scenario.Aliases[id]
		_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: &alias, TargetKeyId: &arn})
		if _, ok := errors.AsType[*types.AlreadyExistsException](err); ok {
			_, err = c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: &alias, TargetKeyId: &arn})
		}
		if err != nil {
			return fmt.Errorf("reset: alias %s: %w", alias, err)
		}
	}
	// Setup enables the keys, puts their policies and gives them new FSx
	// grants.
	w.env.Stack.KMS.ClearGrants()
	grants, err := scenario.Setup(ctx, c)
	if err != nil {
		return fmt.Errorf("reset: %w", err)
	}
	w.env.Grants = grants
	for _, arn := range demoKeys() {
		if _, err := c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: &arn}); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
		if _, err := c.UntagResource(ctx, &kms.UntagResourceInput{KeyId: &arn, TagKeys: []string{sampleTag}}); err != nil {
			return fmt.Errorf("reset: %w", err)
		}
	}
	return w.forget(ctx)
}

// forget deletes every item of the alert state table.
func (w *world) forget(ctx context.Context) error {
	table := w.env.Stack.StateTable
	p := dynamodb.NewScanPaginator(w.db, &dynamodb.ScanInput{TableName: &table,
		ProjectionExpression: aws.String("#k, #f"), ExpressionAttributeNames: map[string]string{"#k": state.KeyAttribute, "#f": state.FindingAttribute}})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("reset: alert state: %w", err)
		}
		for _, it := range page.Items {
			if _, err := w.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: &table, Key: it}); err != nil {
				return fmt.Errorf("reset: alert state: %w", err)
			}
		}
	}
	return nil
}
