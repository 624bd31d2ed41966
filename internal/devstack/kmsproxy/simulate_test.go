package kmsproxy_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/internal/devstack/kmsproxy"
)

// simulate lays s over key id for the rest of the test.
func simulate(t *testing.T, id string, s kmsproxy.Simulation) {
	t.Helper()
	p := devstack.Current().KMS
	if _, err := p.Simulate(id, s); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Simulate(id, kmsproxy.Simulation{}) })
}

// metadata returns the KeyMetadata of DescribeKey on id, failing the test
// on an error answer.
func metadata(t *testing.T, id string) map[string]any {
	t.Helper()
	status, out := call(t, "DescribeKey", `{"KeyId":"`+id+`"}`)
	if status != 200 {
		t.Fatalf("DescribeKey %s = %d %v", id, status, out)
	}
	return out["KeyMetadata"].(map[string]any)
}

// wantError fails the test unless op with body answers 400 with errType
// and a message containing msg.
func wantError(t *testing.T, op, body, errType, msg string) {
	t.Helper()
	status, out := call(t, op, body)
	if m, _ := out["message"].(string); status != 400 || out["__type"] != errType || !strings.Contains(m, msg) {
		t.Errorf("%s %s = %d %v, want 400 %s saying %q", op, body, status, out, errType, msg)
	}
}

func TestSimulateDeleted(t *testing.T) {
	id, arn := newKey(t)
	alias := "alias/deleted-" + strings.ToLower(rand.Text())
	if status, out := call(t, "CreateAlias", `{"AliasName":"`+alias+`","TargetKeyId":"`+id+`"}`); status != 200 {
		t.Fatalf("CreateAlias: %d %v", status, out)
	}
	p := devstack.Current().KMS
	if _, _, err := p.AddGrant(kmsproxy.Grant{KeyId: id, GranteePrincipal: "g", Operations: []string{"Decrypt"}}); err != nil {
		t.Fatal(err)
	}
	other, otherARN := newKey(t)
	simulate(t, id, kmsproxy.Simulation{Deleted: true})
	if md := metadata(t, other); md["Arn"] != otherARN || md["KeyState"] != "Enabled" {
		t.Errorf("a key without a simulation, while another is simulated: %v", md)
	}

	// KMS: "Key 'arn' does not exist", for the key by id or ARN; its
	// aliases are deleted with it.
	for _, k := range []string{id, arn} {
		for _, op := range []string{"DescribeKey", "GetKeyPolicy", "ListGrants", "ListAliases", "EnableKey", "Encrypt"} {
			wantError(t, op, `{"KeyId":"`+k+`","PolicyName":"default","Plaintext":"aGk="}`, "NotFoundException", "Key '"+arn+"' does not exist")
		}
	}
	wantError(t, "DescribeKey", `{"KeyId":"`+alias+`"}`, "NotFoundException", "Alias arn:aws:kms:us-east-1:111122223333:"+alias+" is not found.")
	wantError(t, "CreateGrant", `{"KeyId":"`+id+`","GranteePrincipal":"g","Operations":["Decrypt"]}`, "NotFoundException", "does not exist")
	if g := p.Grants(arn); len(g) != 0 {
		t.Errorf("the deleted key keeps grants %v", g)
	}
	_, keys := call(t, "ListKeys", `{"Limit":1000}`)
	_, aliases := call(t, "ListAliases", `{"Limit":100}`)
	for what, out := range map[string]map[string]any{"ListKeys": keys, "ListAliases": aliases} {
		if b, _ := json.Marshal(out); strings.Contains(string(b), id) {
			t.Errorf("%s lists the deleted key: %s", what, b)
		}
	}

	// The zero Simulation gives the key back.
	if _, err := p.Simulate(id, kmsproxy.Simulation{}); err != nil {
		t.Fatal(err)
	}
	if md := metadata(t, alias); md["KeyState"] != "Enabled" || md["Arn"] != arn {
		t.Errorf("after the simulation: %v", md)
	}
}

func TestSimulatePendingImport(t *testing.T) {
	id, arn := newKey(t)
	if _, err := devstack.Current().KMS.Simulate(id, kmsproxy.Simulation{KeyState: "PendingImport"}); err == nil {
		t.Error("Simulate accepted PendingImport on a key whose origin is not EXTERNAL")
	}
	validTo := time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	simulate(t, id, kmsproxy.Simulation{Origin: "EXTERNAL", ExpirationModel: "KEY_MATERIAL_EXPIRES", ValidTo: validTo})
	md := metadata(t, id)
	if md["Origin"] != "EXTERNAL" || md["KeyState"] != "Enabled" || md["ExpirationModel"] != "KEY_MATERIAL_EXPIRES" || md["ValidTo"] != float64(validTo.Unix()) {
		t.Errorf("imported key: %v", md)
	}

	// DeleteImportedKeyMaterial: PendingImport, unusable, no ValidTo.
	if status, out := call(t, "DeleteImportedKeyMaterial", `{"KeyId":"`+arn+`"}`); status != 200 {
		t.Fatalf("DeleteImportedKeyMaterial = %d %v", status, out)
	}
	md = metadata(t, id)
	if md["KeyState"] != "PendingImport" || md["Enabled"] != false || md["ValidTo"] != nil || md["ExpirationModel"] != nil {
		t.Errorf("after DeleteImportedKeyMaterial: %v", md)
	}
	wantError(t, "Encrypt", `{"KeyId":"`+id+`","Plaintext":"aGk="}`, "KMSInvalidStateException", arn+" is pending import.")
	wantError(t, "EnableKey", `{"KeyId":"`+id+`"}`, "KMSInvalidStateException", "pending import")
	wantError(t, "CreateGrant", `{"KeyId":"`+id+`","GranteePrincipal":"g","Operations":["Decrypt"]}`, "KMSInvalidStateException", "PendingImport")
	if status, out := call(t, "GetKeyPolicy", `{"KeyId":"`+id+`","PolicyName":"default"}`); status != 200 {
		t.Errorf("GetKeyPolicy of a PendingImport key = %d %v, want its policy (KMS allows it)", status, out)
	}

	// ImportKeyMaterial makes it usable again.
	if status, out := call(t, "ImportKeyMaterial", `{"KeyId":"`+id+`","ImportToken":"AA==","EncryptedKeyMaterial":"AA==","ExpirationModel":"KEY_MATERIAL_DOES_NOT_EXPIRE"}`); status != 200 {
		t.Fatalf("ImportKeyMaterial = %d %v", status, out)
	}
	if md := metadata(t, id); md["KeyState"] != "Enabled" || md["ExpirationModel"] != "KEY_MATERIAL_DOES_NOT_EXPIRE" || md["ValidTo"] != nil {
		t.Errorf("after ImportKeyMaterial: %v", md)
	}
}

func TestSimulateCustomKeyStore(t *testing.T) {
	id, arn := newKey(t)
	store := "cks-" + strings.ToLower(rand.Text())[:17]
	simulate(t, id, kmsproxy.Simulation{Origin: "AWS_CLOUDHSM", CustomKeyStoreID: store})
	if md := metadata(t, id); md["KeyState"] != "Enabled" || md["CustomKeyStoreId"] != store || md["Origin"] != "AWS_CLOUDHSM" {
		t.Errorf("key in a connected store: %v", md)
	}
	connection := func() any {
		status, out := call(t, "DescribeCustomKeyStores", `{"CustomKeyStoreId":"`+store+`"}`)
		stores, _ := out["CustomKeyStores"].([]any)
		if status != 200 || len(stores) != 1 {
			t.Fatalf("DescribeCustomKeyStores = %d %v", status, out)
		}
		return stores[0].(map[string]any)["ConnectionState"]
	}
	if c := connection(); c != "CONNECTED" {
		t.Errorf("new store is %v, want CONNECTED", c)
	}

	for range 2 { // disconnecting twice is no error
		if status, out := call(t, "DisconnectCustomKeyStore", `{"CustomKeyStoreId":"`+store+`"}`); status != 200 {
			t.Fatalf("DisconnectCustomKeyStore = %d %v", status, out)
		}
	}
	if c := connection(); c != "DISCONNECTED" {
		t.Errorf("disconnected store is %v", c)
	}
	if md := metadata(t, arn); md["KeyState"] != "Unavailable" || md["Enabled"] != false {
		t.Errorf("key in a disconnected store: %v", md)
	}
	wantError(t, "GenerateDataKeyWithoutPlaintext", `{"KeyId":"`+id+`","KeySpec":"AES_256"}`, "KMSInvalidStateException", arn+" is unavailable.")

	if status, out := call(t, "ConnectCustomKeyStore", `{"CustomKeyStoreId":"`+store+`"}`); status != 200 {
		t.Fatalf("ConnectCustomKeyStore = %d %v", status, out)
	}
	if md := metadata(t, id); md["KeyState"] != "Enabled" {
		t.Errorf("key in a reconnected store: %v", md)
	}
	wantError(t, "ConnectCustomKeyStore", `{"CustomKeyStoreId":"cks-none"}`, "CustomKeyStoreNotFoundException", "cks-none")
	wantError(t, "DescribeCustomKeyStores", `{"CustomKeyStoreId":"cks-none"}`, "CustomKeyStoreNotFoundException", "cks-none")
}

// TestSimulateSDK reads simulated keys with the AWS SDK, as fsxkms does:
// the errors are the SDK's typed errors and DescribeKey's rewritten
// metadata decodes.
func TestSimulateSDK(t *testing.T) {
	ctx := context.Background()
	client := kms.New(kms.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(devstack.Current().KMSEndpoint),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	gone, goneARN := newKey(t)
	simulate(t, gone, kmsproxy.Simulation{Deleted: true})
	_, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(goneARN)})
	if _, ok := errors.AsType[*types.NotFoundException](err); !ok {
		t.Errorf("DescribeKey of a deleted key: %v, want a NotFoundException", err)
	}

	updating, _ := newKey(t)
	simulate(t, updating, kmsproxy.Simulation{KeyState: "Updating"})
	out, err := client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(updating)})
	if err != nil || out.KeyMetadata.KeyState != types.KeyStateUpdating || out.KeyMetadata.Enabled {
		t.Errorf("DescribeKey of an Updating key: %+v, %v", out, err)
	}
	_, err = client.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(updating), CiphertextBlob: []byte("x")})
	if _, ok := errors.AsType[*types.KMSInvalidStateException](err); !ok {
		t.Errorf("Decrypt with an Updating key: %v, want a KMSInvalidStateException", err)
	}

	imported, _ := newKey(t)
	validTo := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	simulate(t, imported, kmsproxy.Simulation{Origin: "EXTERNAL", ExpirationModel: "KEY_MATERIAL_EXPIRES", ValidTo: validTo})
	out, err = client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(imported)})
	if err != nil || out.KeyMetadata.Origin != types.OriginTypeExternal || !aws.ToTime(out.KeyMetadata.ValidTo).Equal(validTo) {
		t.Errorf("DescribeKey of an imported key: %+v, %v", out, err)
	}
}
