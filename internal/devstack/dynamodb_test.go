package devstack_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/fsxkms/fsxkms/internal/devstack"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// stateTable returns a DynamoDB client built the way fsxkms builds its
// own (the SDK's default configuration, which the stack's environment
// points at moto, with its default retries: now and then the client reads
// moto's answer off a connection already closed under it, aws-sdk-go-v2
// #2737, and the SDK retries that) and the table STATE_TABLE names.
func stateTable(t *testing.T) (*dynamodb.Client, string) {
	t.Helper()
	table := os.Getenv("STATE_TABLE")
	if table != state.DefaultTable || table != devstack.Current().StateTable {
		t.Fatalf("STATE_TABLE = %q, want %q (the default, Stack.StateTable %q)", table, state.DefaultTable, devstack.Current().StateTable)
	}
	wantLocalEndpoint(t, "AWS_ENDPOINT_URL_DYNAMODB", devstack.Current().DynamoDBEndpoint)
	return dynamodb.NewFromConfig(awsConfig(t)), table
}

// itemKey is a key of an item no other test and no earlier run of this
// one (go test -count=2) has written.
func itemKey(t *testing.T) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		state.KeyAttribute:     &types.AttributeValueMemberS{Value: "arn:aws:kms:us-east-1:111122223333:key/" + t.Name() + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)},
		state.FindingAttribute: &types.AttributeValueMemberS{Value: "KEY_DISABLED"},
	}
}

// TestDynamoDBConditionalPut: "PutItem ... ConditionExpression: a
// condition that must be satisfied in order for a conditional PutItem
// operation to succeed"; attribute_not_exists on the key makes the first
// put of an item win and any later one fail with
// ConditionalCheckFailedException, the race fsxkms's store relies on.
func TestDynamoDBConditionalPut(t *testing.T) {
	ctx := context.Background()
	c, table := stateTable(t)
	item := itemKey(t)
	item["status"] = &types.AttributeValueMemberS{Value: "OPEN"}
	put := &dynamodb.PutItemInput{
		TableName:           aws.String(table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(#k)"),
		ExpressionAttributeNames: map[string]string{
			"#k": state.KeyAttribute,
		},
	}
	if _, err := c.PutItem(ctx, put); err != nil {
		t.Fatalf("first conditional PutItem: %v", err)
	}
	_, err := c.PutItem(ctx, put)
	if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); !ok {
		t.Fatalf("second conditional PutItem: err = %v, want *types.ConditionalCheckFailedException", err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: keyOf(item), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if s, _ := got.Item["status"].(*types.AttributeValueMemberS); s == nil || s.Value != "OPEN" {
		t.Errorf("GetItem = %v, want the item with status OPEN", got.Item)
	}
}

// TestDynamoDBConditionalUpdate: an UpdateItem whose ConditionExpression
// holds succeeds and one whose condition fails is
// ConditionalCheckFailedException and changes nothing, as when two
// invocations both try to record the same notification.
func TestDynamoDBConditionalUpdate(t *testing.T) {
	ctx := context.Background()
	c, table := stateTable(t)
	key := itemKey(t)
	if _, err := c.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: withAttr(key, "notifyCount", &types.AttributeValueMemberN{Value: "0"})}); err != nil {
		t.Fatalf("PutItem: %v", err)
	}
	update := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(table),
		Key:                       key,
		UpdateExpression:          aws.String("SET notifyCount = notifyCount + :one"),
		ConditionExpression:       aws.String("notifyCount = :seen"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":one": &types.AttributeValueMemberN{Value: "1"}, ":seen": &types.AttributeValueMemberN{Value: "0"}},
		ReturnValues:              types.ReturnValueAllNew,
	}
	out, err := c.UpdateItem(ctx, update)
	if err != nil {
		t.Fatalf("first conditional UpdateItem: %v", err)
	}
	if n, _ := out.Attributes["notifyCount"].(*types.AttributeValueMemberN); n == nil || n.Value != "1" {
		t.Errorf("first UpdateItem returned %v, want notifyCount 1", out.Attributes)
	}
	_, err = c.UpdateItem(ctx, update)
	if _, ok := errors.AsType[*types.ConditionalCheckFailedException](err); !ok {
		t.Fatalf("second conditional UpdateItem: err = %v, want *types.ConditionalCheckFailedException", err)
	}
	got, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("GetItem: %v", err)
	}
	if n, _ := got.Item["notifyCount"].(*types.AttributeValueMemberN); n == nil || n.Value != "1" {
		t.Errorf("after the failed UpdateItem the item is %v, want notifyCount still 1", got.Item)
	}
}

// TestDynamoDBStateTable: the table has template.yaml's key schema
// (package state's names), on-demand billing and TTL on expiresAt.
func TestDynamoDBStateTable(t *testing.T) {
	ctx := context.Background()
	c, table := stateTable(t)
	t.Logf("moto_server start to first ListTables answer: %v", devstack.Current().DynamoDBReady)
	d, err := c.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTable: %v", err)
	}
	tb := d.Table
	var keys, attrs []string
	for _, k := range tb.KeySchema {
		keys = append(keys, aws.ToString(k.AttributeName)+" "+string(k.KeyType))
	}
	for _, a := range tb.AttributeDefinitions {
		attrs = append(attrs, aws.ToString(a.AttributeName)+" "+string(a.AttributeType))
	}
	if want := []string{state.KeyAttribute + " HASH", state.FindingAttribute + " RANGE"}; strings.Join(keys, ", ") != strings.Join(want, ", ") {
		t.Errorf("KeySchema = %v, want %v", keys, want)
	}
	if want := []string{state.KeyAttribute + " S", state.FindingAttribute + " S"}; strings.Join(attrs, ", ") != strings.Join(want, ", ") {
		t.Errorf("AttributeDefinitions = %v, want %v", attrs, want)
	}
	if tb.BillingModeSummary == nil || tb.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("BillingModeSummary = %+v, want PAY_PER_REQUEST", tb.BillingModeSummary)
	}
	if tb.TableStatus != types.TableStatusActive {
		t.Errorf("TableStatus = %s, want ACTIVE", tb.TableStatus)
	}
	if want := "arn:aws:dynamodb:us-east-1:111122223333:table/" + table; aws.ToString(tb.TableArn) != want {
		t.Errorf("TableArn = %s, want %s (the stack's Region and account)", aws.ToString(tb.TableArn), want)
	}
	ttl, err := c.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatalf("DescribeTimeToLive: %v", err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != state.TTLAttribute || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TimeToLiveDescription = %+v, want %s ENABLED", d, state.TTLAttribute)
	}
}

func withAttr(m map[string]types.AttributeValue, k string, v types.AttributeValue) map[string]types.AttributeValue {
	out := map[string]types.AttributeValue{k: v}
	maps.Copy(out, m)
	return out
}

// keyOf is the key attributes of item.
func keyOf(item map[string]types.AttributeValue) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		state.KeyAttribute:     item[state.KeyAttribute],
		state.FindingAttribute: item[state.FindingAttribute],
	}
}
