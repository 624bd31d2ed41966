package fsxkms_test

// This file checks template.yaml, the SAM template users deploy with
// `sam build && sam deploy`. Nobody can deploy it from here, so the test
// asserts what would otherwise only show up in AWS: every function builds
// through the Makefile, the EventBridge rules match the event names the
// decoder handles, every reference resolves, the IAM statements stay
// read-only on KMS and FSx, alerts and failures are encrypted and kept (the
// failure queue survives stack deletion), the alert state table has package
// state's schema, is encrypted, recoverable and kept, and is the only thing
// the functions may read and write in DynamoDB, only the functions and this
// account's CloudWatch may publish alerts, the resource policies bind
// AWS services to this account or to exact ARNs, and the Security Hub
// export and the event bus are off by default, their permissions granted
// only when on (securityhub:BatchImportFindings on the account's default
// product, events:PutEvents on that bus). cfn-lint (make lint, make
// test) checks the rest against the CloudFormation and SAM specifications.
//
// The template is read twice:
//   - as JSON with its intrinsic functions kept ({"Ref": ...}), which the
//     checks walk (goformation's intrinsics.ProcessYAML with NoProcess);
//   - by goformation's typed parser, which rejects unknown top-level
//     properties of a resource (a typo such as "Timout").
//
// TestTemplateChecksFail runs the same checks on broken copies of the
// template and requires each defect to be reported.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"gopkg.in/yaml.v3"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
	"github.com/fsxkms/fsxkms/pkg/state"
)

// Logical IDs and names the checks rely on.
const (
	alertTopic       = "AlertTopic"            // AWS::SNS::Topic, created unless ExistingAlertTopicArn is set
	existingTopicArn = "ExistingAlertTopicArn" // parameter naming a topic to use instead
	failureQueue     = "FailureQueue"          // AWS::SQS::Queue holding events that could not be judged
	stateTable       = "StateTable"            // AWS::DynamoDB::Table holding the alert state (STATE_TABLE)
	sweepFunction    = "SweepFunction"
	serverlessFn     = "AWS::Serverless::Function"
	samTransform     = "AWS::Serverless-2016-10-31"
	cloudTrailAPI    = "AWS API Call via CloudTrail"
	cloudTrailSvc    = "AWS Service Event via CloudTrail"
	securityHubOn    = "SecurityHubOn" // condition: parameter SecurityHub is "on"
	hasEventBus      = "HasEventBus"   // condition: parameter EventBusArn is set
	eventBusArn      = "EventBusArn"   // parameter naming the bus alerts are also put on
	// defaultProduct is the Security Hub product fsxkms imports as: the
	// account's own (pkg/securityhub's Product.ARN).
	defaultProduct = "arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default"
)

// allowedActions are the only IAM actions a statement may allow. KMS is
// read-only; sns:Publish, sqs:SendMessage and the DynamoDB actions are
// further limited to the alert topic, the failure queue and the state table
// by checkIAM.
var allowedActions = append([]string{
	"kms:DescribeKey", "kms:GetKeyPolicy", "kms:ListGrants", "kms:ListAliases", "kms:ListResourceTags",
	"fsx:DescribeFileSystems", "fsx:DescribeBackups", "fsx:DescribeFileCaches",
	"sns:Publish",
	"sqs:SendMessage",
	"securityhub:BatchImportFindings",
	"events:PutEvents",
}, stateActions...)

// stateActions are what each function does with its alert state (package
// state's store), exactly: checkState wants every function allowed all of
// them, on the state table's ARN only (no Scan, no index, no other table).
var stateActions = []string{"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"}

// inventoryActions are the FSx calls that list every resource carrying a KMS
// key (pkg/inventory): a function that may make one must be allowed all,
// or its inventory fails.
var inventoryActions = []string{"fsx:DescribeFileSystems", "fsx:DescribeBackups", "fsx:DescribeFileCaches"}

// tmpl is template.yaml as the checks see it.
type tmpl struct {
	raw      map[string]any           // intrinsics kept as {"Ref": ...}, {"Fn::GetAtt": ...}
	typed    *cloudformation.Template // goformation's parse, intrinsics resolved
	dir      string                   // directory CodeUri paths are relative to
	makefile string                   // text of the Makefile SAM's BuildMethod makefile runs
}

// loadTemplate parses a template. dir is where CodeUri paths resolve and the
// Makefile is read from.
func loadTemplate(data []byte, dir string) (*tmpl, error) {
	data, err := longFormConditions(data)
	if err != nil {
		return nil, err
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	t := &tmpl{dir: dir}
	if err := json.Unmarshal(js, &t.raw); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if t.typed, err = parseTyped(t.raw); err != nil {
		return nil, err
	}
	mk, err := os.ReadFile(filepath.Join(dir, "Makefile"))
	if err != nil {
		return nil, fmt.Errorf("makefile: %w", err)
	}
	t.makefile = string(mk)
	return t, nil
}

// longFormConditions rewrites `!Condition Name` as {Condition: Name}.
// goformation knows the other short forms (!Ref, !If, ...) but not this one,
// and would otherwise turn it into a plain string.
func longFormConditions(data []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		if n.Tag == "!Condition" && n.Kind == yaml.ScalarNode {
			*n = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Content: []*yaml.Node{
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: "Condition"},
				{Kind: yaml.ScalarNode, Tag: "!!str", Value: n.Value},
			}}
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&doc)
	return yaml.Marshal(&doc)
}

// parseTyped runs goformation's typed parser, which rejects unknown
// top-level resource properties. Two adjustments keep it to what
// CloudFormation accepts:
//   - goformation v7.14.9's SAM spec predates Function LoggingConfig (SAM,
//     November 2023), so that property is removed first (checkFunctions reads
//     it from the raw template);
//   - goformation resolves a Ref to a Number parameter as a number, which
//     cannot go in an environment variable; CloudFormation passes it as a
//     string, which Fn::Sub also gives.
func parseTyped(raw map[string]any) (*cloudformation.Template, error) {
	b, err := json.Marshal(raw)
	if err != nil {
		return nil, err
	}
	var cp map[string]any
	if err := json.Unmarshal(b, &cp); err != nil {
		return nil, err
	}
	params := asMap(cp["Parameters"])
	for _, r := range asMap(cp["Resources"]) {
		if str(get(r, "Type")) != serverlessFn {
			continue
		}
		props := asMap(get(r, "Properties"))
		delete(props, "LoggingConfig")
		for k, v := range asMap(get(props, "Environment", "Variables")) {
			if p, ok := refName(v); ok && str(get(params, p, "Type")) == "Number" {
				asMap(get(props, "Environment", "Variables"))[k] = map[string]any{"Fn::Sub": "${" + p + "}"}
			}
		}
	}
	b, err = json.Marshal(cp)
	if err != nil {
		return nil, err
	}
	typed, err := goformation.ParseJSON(b)
	if err == nil {
		return typed, nil
	}
	// goformation's error does not say which resource; parse them one by one.
	for _, name := range sortedKeys(asMap(cp["Resources"])) {
		one := map[string]any{}
		for k, v := range cp {
			one[k] = v
		}
		one["Resources"] = map[string]any{name: asMap(cp["Resources"])[name]}
		b, _ := json.Marshal(one)
		if _, err1 := goformation.ParseJSON(b); err1 != nil {
			return nil, fmt.Errorf("template: Resources.%s: %w", name, err1)
		}
	}
	return nil, fmt.Errorf("template: %w", err)
}

// A check returns the problems it finds, each naming where it is.
type check func(t *tmpl) []string

var checks = []struct {
	name string
	fn   check
}{
	{"Transform", checkTransform},
	{"Functions", checkFunctions},
	{"Rules", checkRules},
	{"References", checkReferences},
	{"IAM", checkIAM},
	{"Encryption", checkEncryption},
	{"LogGroups", checkLogGroups},
	{"Sweep", checkSweep},
	{"Parameters", checkParameters},
	{"Outputs", checkOutputs},
	{"TopicPolicy", checkTopicPolicy},
	{"ServicePrincipals", checkServicePrincipals},
	{"QueuePolicy", checkQueuePolicy},
	{"Retain", checkRetain},
	{"State", checkState},
	{"Outputs to Security Hub and EventBridge", checkIntegrations},
}

func TestTemplate(t *testing.T) {
	data, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := loadTemplate(data, ".")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			for _, p := range c.fn(tpl) {
				t.Error(p)
			}
		})
	}
}

// allProblems runs every check; a template that does not load is one problem.
func allProblems(data []byte, dir string) []string {
	tpl, err := loadTemplate(data, dir)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, c := range checks {
		out = append(out, c.fn(tpl)...)
	}
	return out
}

// TestTemplateChecksFail shows that the checks can fail: each broken copy of
// template.yaml must be reported with the given text.
func TestTemplateChecksFail(t *testing.T) {
	orig, err := os.ReadFile("template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if p := allProblems(orig, "."); len(p) > 0 {
		t.Fatalf("template.yaml itself has problems (see TestTemplate): %q", p)
	}
	tests := []struct {
		name     string
		old, new string // first occurrence of old is replaced by new
		want     string // text one reported problem must contain
	}{
		{"event name missing from rule", "                  - ScheduleKeyDeletion\n", "", "missing [ScheduleKeyDeletion]"},
		{"extra event name in rule", "- CancelKeyDeletion\n", "- CancelKeyDeletion\n                  - Decrypt\n", "extra [Decrypt]"},
		{"native detail-type missing", "                - KMS CMK Deletion\n", "", "missing [KMS CMK Deletion]"},
		{"rule on the wrong source", "source: [aws.kms]", "source: [aws.kmz]", `source is ["aws.kmz"]`},
		{"IAM action widened to kms:*", "Action: [kms:DescribeKey, kms:GetKeyPolicy, kms:ListGrants]", "Action: [kms:*]", `"kms:*" is a wildcard`},
		{"IAM action widened to kms:Decrypt", "Action: [kms:ListAliases]", "Action: [kms:ListAliases, kms:Decrypt]", `"kms:Decrypt" is not allowed`},
		{"IAM write action on FSx", "Action: [fsx:DescribeFileSystems, fsx:DescribeBackups, fsx:DescribeFileCaches]", "Action: [fsx:DescribeFileSystems, fsx:DescribeBackups, fsx:DeleteBackup]", `"fsx:DeleteBackup" is not allowed`},
		{"FSx listed without File Cache", "Action: [fsx:DescribeFileSystems, fsx:DescribeBackups, fsx:DescribeFileCaches]", "Action: [fsx:DescribeFileSystems, fsx:DescribeBackups]", `lists FSx but is not allowed [fsx:DescribeFileCaches]`},
		{"IAM action as a single wildcard string", "Action: [sqs:SendMessage]", "Action: \"*\"", `"*" is a wildcard`},
		{"sns:Publish on any topic", "Action: [sns:Publish]\n              Resource: !If [CreateTopic, !Ref AlertTopic, !Ref ExistingAlertTopicArn]", "Action: [sns:Publish]\n              Resource: \"*\"", "sns:Publish must be limited to the alert topic"},
		{"sqs:SendMessage on any queue", "Action: [sqs:SendMessage]\n              Resource: !GetAtt FailureQueue.Arn", "Action: [sqs:SendMessage]\n              Resource: \"*\"", "sqs:SendMessage must be limited to the failure queue"},
		{"managed policy on a function", "      Policies:\n", "      Policies:\n        - AdministratorAccess\n", `"AdministratorAccess" cannot be checked`},
		{"dangling Ref", "Schedule: !Ref SweepSchedule", "Schedule: !Ref SweepSchedul", `Ref refers to "SweepSchedul"`},
		{"dangling GetAtt", "Destination: !GetAtt FailureQueue.Arn", "Destination: !GetAtt FailureQueu.Arn", `GetAtt refers to "FailureQueu"`},
		{"dangling Sub", "${AWS::StackName}-kms-events", "${StackNam}-kms-events", `Sub "${StackNam}" refers to "StackNam"`},
		{"unknown If condition", "ALERT_TOPIC_ARN: !If [CreateTopic,", "ALERT_TOPIC_ARN: !If [CreateTopik,", `condition "CreateTopik"`},
		{"unknown !Condition", "- !Condition CreateTopic", "- !Condition CreateTopik", `condition "CreateTopik"`},
		{"conditional resource referenced unconditionally", "Resource: !If [CreateTopic, !Ref AlertTopic, !Ref ExistingAlertTopicArn]", "Resource: !Ref AlertTopic", `only exists if CreateTopic`},
		{"property typo", "Timeout: 60", "Timout: 60", `Resources.KmsEventsFunction: json: unknown field "Timout"`},
		{"wrong architecture", "Architectures: [arm64]", "Architectures: [x86_64]", "Architectures"},
		{"CodeUri missing on disk", "CodeUri: .", "CodeUri: functions/nowhere", "functions/nowhere"},
		{"no Makefile target", "KmsEventsFunction:\n    Type", "KmsEventFunction:\n    Type", "build-KmsEventFunction:"},
		{"topic not encrypted", "\n      KmsMasterKeyId: !Ref AlertTopicKey", "", "KmsMasterKeyId"},
		{"queue not encrypted", "SqsManagedSseEnabled: true", "SqsManagedSseEnabled: false", "not encrypted"},
		{"failure destination elsewhere", "Type: SQS\n            Destination: !GetAtt FailureQueue.Arn", "Type: SQS\n            Destination: !GetAtt FailureQueue.QueueName", "OnFailure"},
		{"no retention", "RetentionInDays: !Ref LogRetentionInDays", "LogGroupClass: STANDARD", "RetentionInDays"},
		{"text logs", "LogFormat: JSON", "LogFormat: Text", "LogFormat"},
		{"sweep schedule hard-coded", "Schedule: !Ref SweepSchedule", "Schedule: rate(1 hour)", "SweepSchedule"},
		{"email default severity", "Default: WARNING", "Default: INFO", "EmailMinSeverity"},
		{"no queue output", "Value: !GetAtt FailureQueue.Arn\n", "Value: !Ref FailureQueue\n", "failure queue ARN"},
		{"no topic policy on the alert topic", "Topics: [!Ref AlertTopic]", "Topics: [!Ref ExistingAlertTopicArn]", "no AWS::SNS::TopicPolicy"},
		{"topic policy without its condition", "    Condition: CreateTopic\n    Properties:\n      Topics:", "    Properties:\n      Topics:", "Condition is \"\", want CreateTopic"},
		{"anyone may publish", "AWS: [!GetAtt KmsEventsFunctionRole.Arn, !GetAtt SweepFunctionRole.Arn]\n            Action: sns:Publish", "AWS: \"*\"\n            Action: sns:Publish", "may only allow the functions' roles"},
		{"sweep role may not publish", "AWS: [!GetAtt KmsEventsFunctionRole.Arn, !GetAtt SweepFunctionRole.Arn]\n            Action: sns:Publish", "AWS: [!GetAtt KmsEventsFunctionRole.Arn]\n            Action: sns:Publish", "missing [SweepFunctionRole]"},
		{"topic policy allows more than Publish", "            Action: sns:Publish\n            Resource: !Ref AlertTopic\n", "            Action: [sns:Publish, sns:SetTopicAttributes]\n            Resource: !Ref AlertTopic\n", `"sns:SetTopicAttributes"`},
		{"no Deny for other publishers", "Effect: Deny", "Effect: Allow", "no Deny of sns:Publish"},
		{"Deny exempts a third role", "aws:PrincipalArn: [!GetAtt KmsEventsFunctionRole.Arn, !GetAtt SweepFunctionRole.Arn]", "aws:PrincipalArn: [!GetAtt KmsEventsFunctionRole.Arn, !GetAtt SweepFunctionRole.Arn, !GetAtt FailureQueue.Arn]", "extra [FailureQueue]"},
		{"Deny catches CloudWatch", "              BoolIfExists:\n                aws:PrincipalIsAWSService: \"false\"\n", "", "aws:PrincipalIsAWSService"},
		{"CloudWatch publishes from any account", "            Action: sns:Publish\n            Resource: !Ref AlertTopic\n            Condition:\n              StringEquals:\n                aws:SourceAccount: !Ref AWS::AccountId\n", "            Action: sns:Publish\n            Resource: !Ref AlertTopic\n", "AlertTopicPolicy.Properties.PolicyDocument.Statement[1]: service principal"},
		{"topic key lets CloudWatch of any account use it", "Resource: \"*\"\n            Condition:\n              StringEquals:\n                aws:SourceAccount: !Ref AWS::AccountId\n", "Resource: \"*\"\n", "AlertTopicKey.Properties.KeyPolicy.Statement[2]: service principal"},
		{"queue policy matches other stacks' rules", "rule/${AWS::StackName}-kms-api-calls\n", "rule/${AWS::StackName}-*\n", "is not the exact ARN of a rule"},
		{"queue policy misses a rule", "                  - !Sub arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/${AWS::StackName}-kms-native\n", "", "missing [KmsEventsFunction.Events.KmsNativeEvents]"},
		{"queue policy with ArnLike", "              ArnEquals:\n                aws:SourceArn:", "              ArnLike:\n                aws:SourceArn:", "ArnEquals"},
		{"failure queue deleted with the stack", "DeletionPolicy: Retain\n", "DeletionPolicy: Delete\n", "DeletionPolicy is \"Delete\", want Retain"},
		{"failure queue dropped on replacement", "    UpdateReplacePolicy: Retain\n", "", "UpdateReplacePolicy is \"\", want Retain"},
		{"state table deleted with the stack", "Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain", "Type: AWS::DynamoDB::Table\n    DeletionPolicy: Delete", "StateTable.DeletionPolicy is \"Delete\", want Retain"},
		{"state table dropped on replacement", "DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n    Properties:\n      BillingMode", "DeletionPolicy: Retain\n    Properties:\n      BillingMode", "StateTable.UpdateReplacePolicy is \"\", want Retain"},
		{"state table only on a condition", "Type: AWS::DynamoDB::Table\n", "Type: AWS::DynamoDB::Table\n    Condition: CreateTopic\n", "created by default"},
		{"state table key renamed", "AttributeName: finding\n          KeyType: RANGE", "AttributeName: findingId\n          KeyType: RANGE", "KeySchema is"},
		{"state table keys swapped", "KeyType: HASH\n        - AttributeName: finding\n          KeyType: RANGE", "KeyType: RANGE\n        - AttributeName: finding\n          KeyType: HASH", `want ["keyArn HASH" "finding RANGE"]`},
		{"state table key as a number", "AttributeName: keyArn\n          AttributeType: S", "AttributeName: keyArn\n          AttributeType: N", "AttributeDefinitions is"},
		{"state table TTL elsewhere", "AttributeName: expiresAt\n        Enabled: true", "AttributeName: ttl\n        Enabled: true", "TimeToLiveSpecification"},
		{"state table TTL off", "AttributeName: expiresAt\n        Enabled: true", "AttributeName: expiresAt\n        Enabled: false", "TimeToLiveSpecification"},
		{"state table provisioned", "BillingMode: PAY_PER_REQUEST", "BillingMode: PROVISIONED", "BillingMode"},
		{"state table without PITR", "PointInTimeRecoveryEnabled: true", "PointInTimeRecoveryEnabled: false", "PointInTimeRecoveryEnabled"},
		{"state table not encrypted", "SSEEnabled: true", "SSEEnabled: false", "SSESpecification.SSEEnabled"},
		{"no STATE_TABLE", "        STATE_TABLE: !Ref StateTable\n", "", "STATE_TABLE is null"},
		{"no REMIND_AFTER", "        REMIND_AFTER: !Ref RemindAfter\n", "", "REMIND_AFTER is null"},
		{"REMIND_AFTER hard-coded", "REMIND_AFTER: !Ref RemindAfter", "REMIND_AFTER: 1h", `REMIND_AFTER is "1h"`},
		{"RemindAfter default", "Default: 24h", "Default: 1h", "Parameters.RemindAfter.Default"},
		{"RemindAfter a number", "  RemindAfter:\n    Type: String", "  RemindAfter:\n    Type: Number", "Parameters.RemindAfter.Type"},
		{"state actions on any table", "Resource: !GetAtt StateTable.Arn", "Resource: \"*\"", "dynamodb:GetItem must be limited to the state table"},
		{"state actions on the table's indexes too", "Resource: !GetAtt StateTable.Arn", "Resource: [!GetAtt StateTable.Arn, !Sub \"${StateTable.Arn}/index/*\"]", "must be limited to the state table"},
		{"state actions as a wildcard", "Action: [dynamodb:GetItem, dynamodb:PutItem, dynamodb:UpdateItem, dynamodb:DeleteItem, dynamodb:Query]", "Action: [dynamodb:*]", `"dynamodb:*" is a wildcard`},
		{"state table scanned", "dynamodb:DeleteItem, dynamodb:Query]", "dynamodb:DeleteItem, dynamodb:Query, dynamodb:Scan]", `"dynamodb:Scan" is not allowed`},
		{"a function may not query", "dynamodb:DeleteItem, dynamodb:Query]", "dynamodb:DeleteItem]", "Resources.KmsEventsFunction DynamoDB actions: missing [dynamodb:Query]"},
		{"Security Hub on by default", "Default: \"off\"\n    AllowedValues: [\"on\", \"off\"]\n    Description: >-\n      \"on\" imports", "Default: \"on\"\n    AllowedValues: [\"on\", \"off\"]\n    Description: >-\n      \"on\" imports", "Parameters.SecurityHub.Default"},
		{"event bus by default", "  EventBusArn:\n    Type: String\n    Default: \"\"", "  EventBusArn:\n    Type: String\n    Default: \"arn:aws:events:us-east-1:111122223333:event-bus/default\"", "Parameters.EventBusArn.Default"},
		{"Security Hub condition inverted", "SecurityHubOn: !Equals [!Ref SecurityHub, \"on\"]", "SecurityHubOn: !Equals [!Ref SecurityHub, \"off\"]", "Conditions.SecurityHubOn"},
		{"no SECURITY_HUB", "        SECURITY_HUB: !Ref SecurityHub\n", "", "SECURITY_HUB is null"},
		{"EVENT_BUS_ARN hard-coded", "EVENT_BUS_ARN: !Ref EventBusArn", "EVENT_BUS_ARN: arn:aws:events:us-east-1:111122223333:event-bus/default", "EVENT_BUS_ARN is"},
		{"Security Hub allowed unconditionally", "            - !If\n              - SecurityHubOn\n              - Sid: SecurityHubFindings\n                Effect: Allow\n                Action: [securityhub:BatchImportFindings]\n                Resource: !Sub arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default\n              - !Ref AWS::NoValue\n",
			"            - Sid: SecurityHubFindings\n              Effect: Allow\n              Action: [securityhub:BatchImportFindings]\n              Resource: !Sub arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default\n",
			"securityhub:BatchImportFindings must be allowed only under !If [SecurityHubOn"},
		{"Security Hub on any product", "Resource: !Sub arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default", "Resource: \"*\"", "only on the account's default product"},
		{"events on any bus", "Action: [events:PutEvents]\n                Resource: !Ref EventBusArn", "Action: [events:PutEvents]\n                Resource: \"*\"", "events:PutEvents must be allowed only under"},
		{"events under the wrong condition", "              - HasEventBus\n              - Sid: AlertEvents", "              - SecurityHubOn\n              - Sid: AlertEvents", "events:PutEvents must be allowed only under !If [HasEventBus"},
		{"sweep may not put events", "            - !If\n              - HasEventBus\n              - Sid: AlertEvents\n                Effect: Allow\n                Action: [events:PutEvents]\n                Resource: !Ref EventBusArn\n              - !Ref AWS::NoValue\n      EventInvokeConfig:\n        MaximumRetryAttempts: 1",
			"      EventInvokeConfig:\n        MaximumRetryAttempts: 1", "Resources.SweepFunction: 0 statements allow events:PutEvents"},
		{"Security Hub wildcard action", "Action: [securityhub:BatchImportFindings]", "Action: [securityhub:*]", `"securityhub:*" is a wildcard`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Contains(orig, []byte(tt.old)) {
				t.Fatalf("template.yaml no longer contains %q; update this broken copy", tt.old)
			}
			broken := bytes.Replace(orig, []byte(tt.old), []byte(tt.new), 1)
			problems := allProblems(broken, ".")
			for _, p := range problems {
				if strings.Contains(p, tt.want) {
					t.Logf("reported: %s", p)
					return
				}
			}
			t.Errorf("no problem mentions %q; got %q", tt.want, problems)
		})
	}
}

func checkTransform(t *tmpl) []string {
	tr := t.typed.Transform
	if tr == nil || tr.String == nil || *tr.String != samTransform {
		return []string{fmt.Sprintf("Transform: want %s", samTransform)}
	}
	return nil
}

// functions returns the logical IDs of the SAM functions, sorted.
func (t *tmpl) functions() []string {
	var ids []string
	for id, r := range asMap(t.raw["Resources"]) {
		if str(get(r, "Type")) == serverlessFn {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// fnProp is a function property, or the Globals value SAM would use.
func (t *tmpl) fnProp(id, name string) any {
	if v, ok := asMap(get(t.raw, "Resources", id, "Properties"))[name]; ok {
		return v
	}
	return get(t.raw, "Globals", "Function", name)
}

// makeTarget returns the recipe of a Makefile target and whether it exists.
func (t *tmpl) makeTarget(name string) (string, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:.*\n((?:\t.*\n?)*)`)
	m := re.FindStringSubmatch(t.makefile)
	if m == nil {
		return "", false
	}
	return m[1], true
}

func checkFunctions(t *tmpl) []string {
	var out []string
	bad := func(id, format string, args ...any) {
		out = append(out, fmt.Sprintf("Resources.%s: ", id)+fmt.Sprintf(format, args...))
	}
	ids := t.functions()
	if len(ids) == 0 {
		return []string{"Resources: no " + serverlessFn}
	}
	for _, id := range ids {
		if v := str(t.fnProp(id, "Runtime")); v != "provided.al2023" {
			bad(id, "Runtime is %q, want provided.al2023", v)
		}
		if v := t.fnProp(id, "Architectures"); !equalJSON(v, []any{"arm64"}) {
			bad(id, "Architectures is %v, want [arm64]", v)
		}
		if v := str(t.fnProp(id, "Handler")); v != "bootstrap" {
			bad(id, "Handler is %q, want bootstrap", v)
		}
		if v := str(get(t.raw, "Resources", id, "Metadata", "BuildMethod")); v != "makefile" {
			bad(id, "Metadata.BuildMethod is %q, want makefile", v)
		}
		code := str(t.fnProp(id, "CodeUri"))
		if fi, err := os.Stat(filepath.Join(t.dir, code)); code == "" || err != nil || !fi.IsDir() {
			bad(id, "CodeUri %q is not a directory next to the template", code)
		}
		target := "build-" + id
		if recipe, ok := t.makeTarget(target); !ok {
			bad(id, "the Makefile has no %s: target (BuildMethod makefile runs it)", target)
		} else if !strings.Contains(recipe, "$(ARTIFACTS_DIR)/bootstrap") || !strings.Contains(recipe, "GOARCH=arm64") {
			bad(id, "Makefile target %s must build GOARCH=arm64 into $(ARTIFACTS_DIR)/bootstrap", target)
		}
		if v := str(get(t.fnProp(id, "LoggingConfig"), "LogFormat")); v != "JSON" {
			bad(id, "LoggingConfig.LogFormat is %q, want JSON", v)
		}
		if g, ok := refName(get(t.fnProp(id, "LoggingConfig"), "LogGroup")); !ok || str(get(t.raw, "Resources", g, "Type")) != "AWS::Logs::LogGroup" {
			bad(id, "LoggingConfig.LogGroup must Ref an AWS::Logs::LogGroup of this template (for its retention)")
		}
		dest := get(t.fnProp(id, "EventInvokeConfig"), "DestinationConfig", "OnFailure")
		if str(get(dest, "Type")) != "SQS" || !isGetAtt(get(dest, "Destination"), failureQueue, "Arn") {
			bad(id, "EventInvokeConfig.DestinationConfig.OnFailure must be Type SQS, Destination !GetAtt %s.Arn; got %s", failureQueue, compact(dest))
		}
		env := map[string]any{}
		for _, src := range []any{get(t.raw, "Globals", "Function"), get(t.raw, "Resources", id, "Properties")} {
			for k, v := range asMap(get(src, "Environment", "Variables")) {
				env[k] = v
			}
		}
		for name, param := range map[string]string{"MIN_SEVERITY": "MinSeverity", "FSX_KEY_ARNS": "FsxKeyArns", "FSX_DISCOVERY": "FsxDiscovery"} {
			if p, _ := refName(env[name]); p != param {
				bad(id, "environment variable %s must be !Ref %s", name, param)
			}
		}
		if !isAlertTopic(env["ALERT_TOPIC_ARN"]) {
			bad(id, "environment variable ALERT_TOPIC_ARN must name the alert topic")
		}
		for name, ev := range asMap(t.fnProp(id, "Events")) {
			if typ := str(get(ev, "Type")); typ == "EventBridgeRule" || typ == "Schedule" {
				if dl := get(ev, "Properties", "DeadLetterConfig"); dl != nil && !isGetAtt(get(dl, "Arn"), failureQueue, "Arn") {
					bad(id, "Events.%s.Properties.DeadLetterConfig.Arn must be !GetAtt %s.Arn", name, failureQueue)
				}
			}
		}
	}
	return out
}

// pattern is an EventBridge rule pattern found in the template.
type pattern struct {
	where string
	p     map[string]any
}

func (t *tmpl) patterns() []pattern {
	var out []pattern
	for _, id := range sortedKeys(asMap(t.raw["Resources"])) {
		r := asMap(t.raw["Resources"])[id]
		switch str(get(r, "Type")) {
		case serverlessFn:
			evs := asMap(get(r, "Properties", "Events"))
			for _, name := range sortedKeys(evs) {
				if typ := str(get(evs[name], "Type")); typ == "EventBridgeRule" || typ == "CloudWatchEvent" {
					out = append(out, pattern{fmt.Sprintf("Resources.%s.Properties.Events.%s.Properties.Pattern", id, name), asMap(get(evs[name], "Properties", "Pattern"))})
				}
			}
		case "AWS::Events::Rule":
			out = append(out, pattern{fmt.Sprintf("Resources.%s.Properties.EventPattern", id), asMap(get(r, "Properties", "EventPattern"))})
		}
	}
	return out
}

func checkRules(t *tmpl) []string {
	var out []string
	var cloudTrail, native int
	for _, p := range t.patterns() {
		if !equalJSON(p.p["source"], []any{"aws.kms"}) {
			out = append(out, fmt.Sprintf("%s: source is %s, want [\"aws.kms\"]", p.where, compact(p.p["source"])))
			continue
		}
		types := strs(p.p["detail-type"])
		if slices.Contains(types, cloudTrailAPI) || slices.Contains(types, cloudTrailSvc) {
			cloudTrail++
			out = append(out, sameSet(p.where+".detail-type", types, []string{cloudTrailAPI, cloudTrailSvc})...)
			if !equalJSON(get(p.p, "detail", "eventSource"), []any{"kms.amazonaws.com"}) {
				out = append(out, fmt.Sprintf("%s.detail.eventSource is %s, want [\"kms.amazonaws.com\"]", p.where, compact(get(p.p, "detail", "eventSource"))))
			}
			out = append(out, sameSet(p.where+".detail.eventName", strs(get(p.p, "detail", "eventName")), kmsevent.RelevantEventNames())...)
		} else {
			native++
			out = append(out, sameSet(p.where+".detail-type", types, kmsevent.NativeDetailTypes())...)
		}
	}
	if cloudTrail != 1 {
		out = append(out, fmt.Sprintf("want one rule for %q, found %d", cloudTrailAPI, cloudTrail))
	}
	if native != 1 {
		out = append(out, fmt.Sprintf("want one rule for the native KMS events, found %d", native))
	}
	return out
}

// sameSet reports names missing from got and extra in got, compared to want.
func sameSet(where string, got, want []string) []string {
	var missing, extra []string
	for _, w := range want {
		if !slices.Contains(got, w) {
			missing = append(missing, w)
		}
	}
	for _, g := range got {
		if !slices.Contains(want, g) {
			extra = append(extra, g)
		}
	}
	var out []string
	if len(missing) > 0 {
		out = append(out, fmt.Sprintf("%s: missing %v", where, missing))
	}
	if len(extra) > 0 {
		out = append(out, fmt.Sprintf("%s: extra %v", where, extra))
	}
	return out
}

// checkReferences walks every Ref, Fn::GetAtt, Fn::Sub, Fn::If, Condition,
// Fn::FindInMap and DependsOn and requires its target to exist. A reference
// to a resource with a Condition must be under that condition: in a resource
// or output with it (or with an Fn::And that includes it), or in the true
// branch of an Fn::If on it.
func checkReferences(t *tmpl) []string {
	w := refWalker{
		params:     asMap(t.raw["Parameters"]),
		resources:  t.samResources(),
		conditions: asMap(t.raw["Conditions"]),
		mappings:   asMap(t.raw["Mappings"]),
	}
	for _, name := range sortedKeys(w.conditions) {
		w.walk("Conditions."+name, w.conditions[name], nil, true)
	}
	w.walk("Globals", t.raw["Globals"], nil, false)
	for _, section := range []string{"Resources", "Outputs"} {
		items := asMap(t.raw[section])
		for _, id := range sortedKeys(items) {
			var active []string
			if c, ok := asMap(items[id])["Condition"]; ok {
				w.condRef(fmt.Sprintf("%s.%s.Condition", section, id), c)
				active = []string{str(c)}
			}
			for _, d := range anyList(get(items[id], "DependsOn")) {
				if _, ok := w.resources[str(d)]; !ok {
					w.bad("%s.%s.DependsOn: no resource %q", section, id, str(d))
				}
			}
			w.walk(section+"."+id, items[id], active, false)
		}
	}
	return w.out
}

type refWalker struct {
	params, resources, conditions, mappings map[string]any
	out                                     []string
}

func (w *refWalker) bad(format string, args ...any) {
	w.out = append(w.out, fmt.Sprintf(format, args...))
}

func (w *refWalker) condRef(where string, c any) {
	if _, ok := w.conditions[str(c)]; !ok {
		w.bad("%s: no condition %q", where, str(c))
	}
}

// target checks a reference to name; getAtt says it needs a resource.
func (w *refWalker) target(where, kind, name string, getAtt bool, active []string, inConditions bool) {
	if strings.HasPrefix(name, "AWS::") && !getAtt {
		return // pseudo parameter
	}
	if _, ok := w.params[name]; ok && !getAtt {
		return
	}
	r, ok := w.resources[name]
	switch {
	case inConditions:
		w.bad("%s: %s refers to %q; Conditions may only use parameters", where, kind, name)
	case !ok && getAtt:
		w.bad("%s: %s refers to %q, which is not a resource", where, kind, name)
	case !ok:
		w.bad("%s: %s refers to %q, which is not a parameter or resource", where, kind, name)
	default:
		if c := str(get(r, "Condition")); c != "" && !w.implied(active, c, 0) {
			w.bad("%s: %s refers to %q, which only exists if %s; use !If [%s, ...]", where, kind, name, c, c)
		}
	}
}

// implied reports whether the active conditions imply condition c.
func (w *refWalker) implied(active []string, c string, depth int) bool {
	for _, a := range active {
		if a == c {
			return true
		}
		if depth < 8 {
			for _, part := range anyList(get(w.conditions[a], "Fn::And")) {
				if sub, ok := asMap(part)["Condition"]; ok && w.implied([]string{str(sub)}, c, depth+1) {
					return true
				}
			}
		}
	}
	return false
}

var subVar = regexp.MustCompile(`\$\{([^!}][^}]*)\}`)

func (w *refWalker) walk(where string, v any, active []string, inConditions bool) {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			w.walk(fmt.Sprintf("%s[%d]", where, i), e, active, inConditions)
		}
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				switch fn {
				case "Ref":
					w.target(where, "Ref", str(arg), false, active, inConditions)
					return
				case "Fn::GetAtt":
					res := str(arg)
					if l := anyList(arg); len(l) == 2 {
						res = str(l[0])
					} else {
						res, _, _ = strings.Cut(res, ".")
					}
					w.target(where, "GetAtt", res, true, active, inConditions)
					return
				case "Fn::Sub":
					s, vars := str(arg), map[string]any{}
					if l := anyList(arg); len(l) == 2 {
						s, vars = str(l[0]), asMap(l[1])
						w.walk(where+".Fn::Sub[1]", l[1], active, inConditions)
					}
					for _, m := range subVar.FindAllStringSubmatch(s, -1) {
						name, attr, _ := strings.Cut(m[1], ".")
						if _, local := vars[m[1]]; local {
							continue
						}
						w.target(where, "Sub \"${"+m[1]+"}\"", name, attr != "" && !strings.HasPrefix(name, "AWS::"), active, inConditions)
					}
					return
				case "Fn::If":
					l := anyList(arg)
					if len(l) != 3 {
						w.bad("%s: Fn::If wants [condition, then, else]", where)
						return
					}
					w.condRef(where+".Fn::If[0]", l[0])
					w.walk(where+".Fn::If[1]", l[1], append(slices.Clone(active), str(l[0])), inConditions)
					w.walk(where+".Fn::If[2]", l[2], active, inConditions)
					return
				case "Condition":
					if _, ok := arg.(string); ok {
						w.condRef(where, arg)
						return
					}
				case "Fn::FindInMap":
					if l := anyList(arg); len(l) > 0 {
						if _, ok := w.mappings[str(l[0])]; !ok {
							w.bad("%s: FindInMap of mapping %q, which does not exist", where, str(l[0]))
						}
					}
				}
			}
		}
		for _, k := range sortedKeys(v) {
			w.walk(where+"."+k, v[k], active, inConditions)
		}
	}
}

// statement is one IAM policy statement and where it is; cond is the
// condition of the Fn::If it is the true branch of, if any.
type statement struct {
	where string
	s     map[string]any
	cond  string
}

// iamStatements collects the statements of identity policies: function
// Policies and AWS::IAM::Role/Policy/ManagedPolicy. Resource policies (key,
// queue, topic policies) and trust policies are not IAM grants to fsxkms.
// Managed policies and SAM policy templates cannot be checked and are
// reported.
func (t *tmpl) iamStatements() ([]statement, []string) {
	var out []statement
	var problems []string
	addDoc := func(where string, doc any) {
		sts := get(doc, "Statement")
		if m, ok := sts.(map[string]any); ok {
			sts = []any{m}
		}
		for i, s := range anyList(sts) {
			w := fmt.Sprintf("%s.Statement[%d]", where, i)
			// A statement under !If [Condition, statement, !Ref AWS::NoValue]
			// exists only with the condition.
			if l := anyList(get(s, "Fn::If")); len(l) == 3 && len(asMap(s)) == 1 {
				out = append(out, statement{w + ".Fn::If[1]", asMap(l[1]), str(l[0])})
				if r, _ := refName(l[2]); r != "AWS::NoValue" {
					out = append(out, statement{w + ".Fn::If[2]", asMap(l[2]), ""})
				}
				continue
			}
			out = append(out, statement{w, asMap(s), ""})
		}
	}
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		r := res[id]
		where := "Resources." + id + ".Properties"
		switch str(get(r, "Type")) {
		case serverlessFn:
			pol := get(r, "Properties", "Policies")
			if _, ok := pol.([]any); !ok && pol != nil {
				pol = []any{pol}
			}
			for i, p := range anyList(pol) {
				w := fmt.Sprintf("%s.Policies[%d]", where, i)
				if get(p, "Statement") != nil {
					addDoc(w, p)
				} else {
					problems = append(problems, fmt.Sprintf("%s: %s cannot be checked (managed policy or SAM policy template); write the statements out", w, compact(p)))
				}
			}
		case "AWS::IAM::Role":
			for i, p := range anyList(get(r, "Properties", "Policies")) {
				addDoc(fmt.Sprintf("%s.Policies[%d].PolicyDocument", where, i), get(p, "PolicyDocument"))
			}
			if m := get(r, "Properties", "ManagedPolicyArns"); m != nil {
				problems = append(problems, fmt.Sprintf("%s.ManagedPolicyArns: %s cannot be checked", where, compact(m)))
			}
		case "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy":
			addDoc(where+".PolicyDocument", get(r, "Properties", "PolicyDocument"))
		}
	}
	return out, problems
}

func checkIAM(t *tmpl) []string {
	sts, out := t.iamStatements()
	if len(sts) == 0 {
		out = append(out, "no IAM statement found: functions need their Policies written out")
	}
	out = append(out, checkInventoryActions(sts)...)
	for _, st := range sts {
		if str(st.s["Effect"]) != "Allow" {
			continue
		}
		if _, ok := st.s["NotAction"]; ok {
			out = append(out, st.where+": NotAction allows everything else; list actions instead")
		}
		if _, ok := st.s["NotResource"]; ok {
			out = append(out, st.where+": NotResource cannot be checked; list resources instead")
		}
		acts := st.s["Action"]
		if _, ok := acts.(string); ok {
			acts = []any{acts}
		}
		for _, a := range anyList(acts) {
			action, ok := a.(string)
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("%s.Action: %s is not a plain action name", st.where, compact(a)))
			case strings.ContainsAny(action, "*?"):
				out = append(out, fmt.Sprintf("%s.Action: %q is a wildcard", st.where, action))
			case !slices.ContainsFunc(allowedActions, func(x string) bool { return strings.EqualFold(x, action) }):
				out = append(out, fmt.Sprintf("%s.Action: %q is not allowed; fsxkms may only %v (read-only on KMS)", st.where, action, allowedActions))
			case strings.EqualFold(action, "sns:Publish") && !isAlertTopic(st.s["Resource"]):
				out = append(out, fmt.Sprintf("%s: sns:Publish must be limited to the alert topic (!Ref %s or %s); Resource is %s", st.where, alertTopic, existingTopicArn, compact(st.s["Resource"])))
			case strings.EqualFold(action, "sqs:SendMessage") && !isGetAtt(st.s["Resource"], failureQueue, "Arn"):
				out = append(out, fmt.Sprintf("%s: sqs:SendMessage must be limited to the failure queue (!GetAtt %s.Arn); Resource is %s", st.where, failureQueue, compact(st.s["Resource"])))
			case strings.HasPrefix(strings.ToLower(action), "dynamodb:") && !isGetAtt(st.s["Resource"], stateTable, "Arn"):
				out = append(out, fmt.Sprintf("%s: %s must be limited to the state table (!GetAtt %s.Arn, no index, no other table); Resource is %s", st.where, action, stateTable, compact(st.s["Resource"])))
			case strings.EqualFold(action, "securityhub:BatchImportFindings") && (st.cond != securityHubOn || str(get(st.s["Resource"], "Fn::Sub")) != defaultProduct):
				out = append(out, fmt.Sprintf("%s: securityhub:BatchImportFindings must be allowed only under !If [%s, ...] and only on the account's default product (!Sub %s); condition %q, Resource %s", st.where, securityHubOn, defaultProduct, st.cond, compact(st.s["Resource"])))
			case strings.EqualFold(action, "events:PutEvents") && (st.cond != hasEventBus || !isRef(st.s["Resource"], eventBusArn)):
				out = append(out, fmt.Sprintf("%s: events:PutEvents must be allowed only under !If [%s, ...] and only on the bus (!Ref %s); condition %q, Resource %s", st.where, hasEventBus, eventBusArn, st.cond, compact(st.s["Resource"])))
			}
		}
	}
	return out
}

// checkInventoryActions wants every resource whose statements allow one of
// inventoryActions to allow all of them.
func checkInventoryActions(sts []statement) []string {
	allowed := map[string][]string{} // resource (Resources.<id>) -> inventory actions allowed
	var order []string
	for _, st := range sts {
		if str(st.s["Effect"]) != "Allow" {
			continue
		}
		owner := st.where
		if parts := strings.SplitN(st.where, ".", 3); len(parts) >= 2 {
			owner = parts[0] + "." + parts[1]
		}
		acts := st.s["Action"]
		if _, ok := acts.(string); ok {
			acts = []any{acts}
		}
		for _, a := range anyList(acts) {
			action, _ := a.(string)
			for _, want := range inventoryActions {
				if strings.EqualFold(action, want) {
					if _, seen := allowed[owner]; !seen {
						order = append(order, owner)
					}
					allowed[owner] = append(allowed[owner], want)
				}
			}
		}
	}
	var out []string
	for _, owner := range order {
		var missing []string
		for _, want := range inventoryActions {
			if !slices.Contains(allowed[owner], want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			out = append(out, fmt.Sprintf("%s lists FSx but is not allowed %v: its inventory would fail", owner, missing))
		}
	}
	return out
}

func checkEncryption(t *tmpl) []string {
	var out []string
	topic := get(t.raw, "Resources", alertTopic)
	if str(get(topic, "Type")) != "AWS::SNS::Topic" {
		out = append(out, fmt.Sprintf("Resources.%s: want an AWS::SNS::Topic", alertTopic))
	} else if get(topic, "Properties", "KmsMasterKeyId") == nil {
		out = append(out, fmt.Sprintf("Resources.%s.Properties: no KmsMasterKeyId; the alert topic must be encrypted", alertTopic))
	}
	q := get(t.raw, "Resources", failureQueue)
	if str(get(q, "Type")) != "AWS::SQS::Queue" {
		out = append(out, fmt.Sprintf("Resources.%s: want an AWS::SQS::Queue", failureQueue))
	} else if get(q, "Properties", "SqsManagedSseEnabled") != true && get(q, "Properties", "KmsMasterKeyId") == nil {
		out = append(out, fmt.Sprintf("Resources.%s.Properties: not encrypted; set SqsManagedSseEnabled: true or KmsMasterKeyId", failureQueue))
	}
	return out
}

func checkLogGroups(t *tmpl) []string {
	var out []string
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) == "AWS::Logs::LogGroup" && get(res[id], "Properties", "RetentionInDays") == nil {
			out = append(out, fmt.Sprintf("Resources.%s.Properties: no RetentionInDays; logs would be kept forever", id))
		}
	}
	return out
}

func checkSweep(t *tmpl) []string {
	if str(get(t.raw, "Resources", sweepFunction, "Type")) != serverlessFn {
		return []string{fmt.Sprintf("Resources.%s: want an %s", sweepFunction, serverlessFn)}
	}
	for _, ev := range asMap(t.fnProp(sweepFunction, "Events")) {
		if str(get(ev, "Type")) == "Schedule" {
			if p, _ := refName(get(ev, "Properties", "Schedule")); p == "SweepSchedule" {
				return nil
			}
		}
	}
	return []string{fmt.Sprintf("Resources.%s.Properties.Events: want a Schedule event with Schedule: !Ref SweepSchedule", sweepFunction)}
}

func checkParameters(t *tmpl) []string {
	var out []string
	params := asMap(t.raw["Parameters"])
	for _, p := range []string{"AlertEmail", "EmailMinSeverity", existingTopicArn, "FsxKeyArns", "MinSeverity", "FsxDiscovery", "SweepSchedule", "RemindAfter"} {
		if _, ok := params[p]; !ok {
			out = append(out, fmt.Sprintf("Parameters.%s: missing", p))
		}
	}
	for p, want := range map[string]string{"EmailMinSeverity": "WARNING", "SweepSchedule": "rate(6 hours)", "FsxDiscovery": "on", existingTopicArn: "", "RemindAfter": "24h"} {
		if _, ok := params[p]; ok {
			if d, ok := asMap(params[p])["Default"]; !ok || d != want {
				out = append(out, fmt.Sprintf("Parameters.%s.Default is %s, want %q", p, compact(d), want))
			}
		}
	}
	return out
}

func checkOutputs(t *tmpl) []string {
	var topic, queue bool
	for _, o := range asMap(t.raw["Outputs"]) {
		v := get(o, "Value")
		topic = topic || isAlertTopic(v)
		queue = queue || isGetAtt(v, failureQueue, "Arn")
	}
	var out []string
	if !topic {
		out = append(out, "Outputs: no output gives the alert topic ARN")
	}
	if !queue {
		out = append(out, "Outputs: no output gives the failure queue ARN (!GetAtt FailureQueue.Arn)")
	}
	return out
}

// isAlertTopic reports whether v names the alert topic: !Ref AlertTopic, the
// ExistingAlertTopicArn parameter, an Fn::If choosing between them, or a list
// of those.
func isAlertTopic(v any) bool {
	if name, ok := refName(v); ok {
		return name == alertTopic || name == existingTopicArn
	}
	if l := anyList(get(v, "Fn::If")); len(l) == 3 {
		return isAlertTopic(l[1]) && isAlertTopic(l[2])
	}
	if l, ok := v.([]any); ok && len(l) > 0 {
		for _, e := range l {
			if !isAlertTopic(e) {
				return false
			}
		}
		return true
	}
	return false
}

func refName(v any) (string, bool) {
	m := asMap(v)
	r, ok := m["Ref"].(string)
	return r, ok && len(m) == 1
}

func isGetAtt(v any, res, attr string) bool {
	a := get(v, "Fn::GetAtt")
	if s, ok := a.(string); ok {
		return s == res+"."+attr
	}
	return equalJSON(a, []any{res, attr})
}

// get follows keys through nested maps; nil if any is missing.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func anyList(v any) []any        { l, _ := v.([]any); return l }
func str(v any) string           { s, _ := v.(string); return s }

func strs(v any) []string {
	var out []string
	for _, e := range anyList(v) {
		out = append(out, str(e))
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func equalJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && bytes.Equal(ja, jb)
}

func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// samResources is Resources plus the roles SAM generates: <Function>Role
// (AWS::IAM::Role, under the function's Condition) for each function without
// a Role property, which the template may reference with !GetAtt.
func (t *tmpl) samResources() map[string]any {
	out := map[string]any{}
	for id, r := range asMap(t.raw["Resources"]) {
		out[id] = r
	}
	for _, id := range t.functions() {
		if get(t.raw, "Resources", id, "Properties", "Role") != nil {
			continue
		}
		role := map[string]any{"Type": "AWS::IAM::Role"}
		if c := get(t.raw, "Resources", id, "Condition"); c != nil {
			role["Condition"] = c
		}
		if _, taken := out[id+"Role"]; !taken {
			out[id+"Role"] = role
		}
	}
	return out
}

// functionRoles are the logical IDs of the functions' SAM-generated roles.
func (t *tmpl) functionRoles() []string {
	var out []string
	for _, id := range t.functions() {
		out = append(out, id+"Role")
	}
	return out
}

// statements returns the statements of a policy document, each with where it is.
func statements(where string, doc any) []statement {
	sts := get(doc, "Statement")
	if m, ok := sts.(map[string]any); ok {
		sts = []any{m}
	}
	var out []statement
	for i, s := range anyList(sts) {
		out = append(out, statement{where: fmt.Sprintf("%s.Statement[%d]", where, i), s: asMap(s)})
	}
	return out
}

// oneOrMany is v as a list: a list as is, anything else as a list of one.
func oneOrMany(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// getAttArns returns the resources of a list of !GetAtt X.Arn, and false if
// anything in v is not one.
func getAttArns(v any) ([]string, bool) {
	var out []string
	for _, e := range oneOrMany(v) {
		a := get(e, "Fn::GetAtt")
		res, attr := "", ""
		if s, ok := a.(string); ok {
			res, attr, _ = strings.Cut(s, ".")
		} else if l := anyList(a); len(l) == 2 {
			res, attr = str(l[0]), str(l[1])
		}
		if res == "" || attr != "Arn" || len(asMap(e)) != 1 {
			return nil, false
		}
		out = append(out, res)
	}
	return out, len(out) > 0
}

// isAccountID reports whether v is !Ref AWS::AccountId.
func isAccountID(v any) bool {
	name, ok := refName(v)
	return ok && name == "AWS::AccountId"
}

// checkTopicPolicy requires a topic policy on the alert topic, under the
// topic's condition, that allows sns:Publish only to the functions' roles and,
// from this account (aws:SourceAccount), to CloudWatch (the failure queue's
// alarm), and denies sns:Publish to every other principal that is not an AWS
// service: an Allow alone would not stop someone whose IAM policy allows
// sns:Publish from forging an alert.
func checkTopicPolicy(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	res := asMap(t.raw["Resources"])
	var ids []string
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::SNS::TopicPolicy" {
			continue
		}
		for _, topic := range oneOrMany(get(res[id], "Properties", "Topics")) {
			if name, ok := refName(topic); ok && name == alertTopic {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) != 1 {
		return []string{fmt.Sprintf("Resources: want one AWS::SNS::TopicPolicy with Topics [!Ref %s], found %d (no AWS::SNS::TopicPolicy means anyone in the account with sns:Publish can forge alerts)", alertTopic, len(ids))}
	}
	id := ids[0]
	if c, want := str(get(res[id], "Condition")), str(get(res[alertTopic], "Condition")); c != want {
		bad("Resources.%s.Condition is %q, want %s (the topic's)", id, c, want)
	}
	roles := t.functionRoles()
	var allowRoles, allowCloudWatch, deny bool
	for _, st := range statements("Resources."+id+".Properties.PolicyDocument", get(res[id], "Properties", "PolicyDocument")) {
		for _, a := range oneOrMany(st.s["Action"]) {
			if !strings.EqualFold(str(a), "sns:Publish") {
				bad("%s.Action: %s; the alert topic's policy is about sns:Publish only", st.where, compact(a))
			}
		}
		if r, ok := refName(st.s["Resource"]); !ok || r != alertTopic {
			bad("%s.Resource is %s, want !Ref %s", st.where, compact(st.s["Resource"]), alertTopic)
		}
		principal := asMap(st.s["Principal"])
		switch str(st.s["Effect"]) {
		case "Allow":
			switch {
			case len(principal) == 1 && principal["AWS"] != nil:
				got, ok := getAttArns(principal["AWS"])
				if !ok {
					bad("%s.Principal.AWS is %s; the topic may only allow the functions' roles (!GetAtt <Function>Role.Arn)", st.where, compact(principal["AWS"]))
					continue
				}
				out = append(out, sameSet(st.where+".Principal.AWS", got, roles)...)
				allowRoles = true
			case len(principal) == 1 && equalJSON(principal["Service"], "cloudwatch.amazonaws.com"):
				allowCloudWatch = true // its aws:SourceAccount: checkServicePrincipals
			default:
				bad("%s.Principal is %s; the topic policy may only allow the functions' roles and cloudwatch.amazonaws.com", st.where, compact(st.s["Principal"]))
			}
		case "Deny":
			deny = true
			if !equalJSON(st.s["Principal"], "*") && !equalJSON(principal["AWS"], "*") {
				bad("%s.Principal is %s, want \"*\" (every other publisher)", st.where, compact(st.s["Principal"]))
			}
			cond := asMap(st.s["Condition"])
			if len(cond) != 2 {
				bad("%s.Condition: want exactly ArnNotEquals aws:PrincipalArn and BoolIfExists aws:PrincipalIsAWSService; got %s", st.where, compact(cond))
			}
			got, ok := getAttArns(get(cond, "ArnNotEquals", "aws:PrincipalArn"))
			if !ok || len(asMap(cond["ArnNotEquals"])) != 1 {
				bad("%s.Condition.ArnNotEquals: want only aws:PrincipalArn: the functions' roles (!GetAtt <Function>Role.Arn); got %s", st.where, compact(cond["ArnNotEquals"]))
			} else {
				out = append(out, sameSet(st.where+".Condition.ArnNotEquals.aws:PrincipalArn", got, roles)...)
			}
			if v := get(cond, "BoolIfExists", "aws:PrincipalIsAWSService"); !equalJSON(v, "false") || len(asMap(cond["BoolIfExists"])) != 1 {
				bad("%s.Condition.BoolIfExists: want only aws:PrincipalIsAWSService: \"false\", so that CloudWatch's alarm can still publish; got %s", st.where, compact(cond["BoolIfExists"]))
			}
		default:
			bad("%s.Effect is %s", st.where, compact(st.s["Effect"]))
		}
	}
	if !allowRoles {
		bad("Resources.%s: no statement allows sns:Publish to the functions' roles", id)
	}
	if !allowCloudWatch {
		bad("Resources.%s: no statement allows sns:Publish to cloudwatch.amazonaws.com (the failure queue's alarm)", id)
	}
	if !deny {
		bad("Resources.%s: no Deny of sns:Publish to everyone but the functions' roles and AWS services; an Allow alone does not stop principals whose IAM policies allow sns:Publish", id)
	}
	return out
}

// resourcePolicies are the resource policies of the template: key policies,
// topic policies and queue policies.
func (t *tmpl) resourcePolicies() []statement {
	var out []statement
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		where := "Resources." + id + ".Properties"
		switch str(get(res[id], "Type")) {
		case "AWS::KMS::Key":
			out = append(out, statements(where+".KeyPolicy", get(res[id], "Properties", "KeyPolicy"))...)
		case "AWS::SNS::TopicPolicy", "AWS::SQS::QueuePolicy":
			out = append(out, statements(where+".PolicyDocument", get(res[id], "Properties", "PolicyDocument"))...)
		}
	}
	return out
}

// checkServicePrincipals requires every resource policy statement that
// allows an AWS service principal to limit it to this account, with
// StringEquals aws:SourceAccount: !Ref AWS::AccountId, or to exact resources
// with ArnEquals aws:SourceArn (no wildcards): otherwise the service acting
// for another account could use the key, topic or queue (a confused deputy).
func checkServicePrincipals(t *tmpl) []string {
	var out []string
	for _, st := range t.resourcePolicies() {
		if str(st.s["Effect"]) != "Allow" || get(st.s["Principal"], "Service") == nil {
			continue
		}
		cond := asMap(st.s["Condition"])
		if isAccountID(get(cond, "StringEquals", "aws:SourceAccount")) {
			continue
		}
		arns := oneOrMany(get(cond, "ArnEquals", "aws:SourceArn"))
		exact := len(arns) > 0
		for _, a := range arns {
			if sub := str(get(a, "Fn::Sub")); sub == "" || strings.ContainsAny(sub, "*?") {
				if _, ok := getAttArns(a); !ok {
					exact = false
				}
			}
		}
		if !exact {
			out = append(out, fmt.Sprintf("%s: service principal %s without StringEquals aws:SourceAccount: !Ref AWS::AccountId or exact ArnEquals aws:SourceArn; got Condition %s", st.where, compact(get(st.s["Principal"], "Service")), compact(cond)))
		}
	}
	return out
}

// ruleARNPrefix is how the queue policy writes a rule ARN before its name.
const ruleARNPrefix = "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:rule/"

// checkQueuePolicy requires the failure queue's policy to let EventBridge send
// only from the rules whose dead-letter queue it is, each named by its exact
// ARN (ArnEquals aws:SourceArn: the !Sub of the rule's RuleName, or !GetAtt of
// the rule), so that another stack's rules cannot.
func checkQueuePolicy(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	// The rules that dead-letter to the queue, as "<Function>.Events.<Event>",
	// by their ARN as the policy may write it.
	byARN := map[string]string{}
	var want []string
	for _, id := range t.functions() {
		evs := asMap(get(t.raw, "Resources", id, "Properties", "Events"))
		for _, ev := range sortedKeys(evs) {
			if !isGetAtt(get(evs[ev], "Properties", "DeadLetterConfig", "Arn"), failureQueue, "Arn") {
				continue
			}
			name := id + ".Events." + ev
			want = append(want, name)
			byARN["GetAtt:"+id+ev] = name // the AWS::Events::Rule SAM generates
			if rn := get(evs[ev], "Properties", "RuleName"); rn != nil {
				sub, _ := get(rn, "Fn::Sub").(string)
				if sub == "" {
					sub = str(rn)
				}
				byARN["Sub:"+ruleARNPrefix+sub] = name
			}
		}
	}
	var found bool
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		if str(get(res[id], "Type")) != "AWS::SQS::QueuePolicy" {
			continue
		}
		for _, st := range statements("Resources."+id+".Properties.PolicyDocument", get(res[id], "Properties", "PolicyDocument")) {
			if str(st.s["Effect"]) != "Allow" || !equalJSON(get(st.s["Principal"], "Service"), "events.amazonaws.com") {
				continue
			}
			found = true
			cond := asMap(st.s["Condition"])
			if len(cond) != 1 || len(asMap(cond["ArnEquals"])) != 1 {
				bad("%s.Condition: want only ArnEquals aws:SourceArn (exact rule ARNs); got %s", st.where, compact(cond))
			}
			var got []string
			for i, a := range oneOrMany(get(cond, "ArnEquals", "aws:SourceArn")) {
				key := ""
				if sub, ok := get(a, "Fn::Sub").(string); ok {
					key = "Sub:" + sub
				} else if r, ok := getAttArns(a); ok {
					key = "GetAtt:" + r[0]
				}
				name, ok := byARN[key]
				if !ok {
					bad("%s.Condition.ArnEquals.aws:SourceArn[%d]: %s is not the exact ARN of a rule whose DeadLetterConfig is %s (write %s<RuleName> or !GetAtt of the rule)", st.where, i, compact(a), failureQueue, ruleARNPrefix)
					continue
				}
				got = append(got, name)
			}
			out = append(out, sameSet(st.where+".Condition.ArnEquals.aws:SourceArn", got, want)...)
		}
	}
	if !found && len(want) > 0 {
		bad("Resources: no AWS::SQS::QueuePolicy lets events.amazonaws.com send to %s, the dead-letter queue of %v", failureQueue, want)
	}
	return out
}

// checkRetain requires DeletionPolicy and UpdateReplacePolicy Retain on the
// resources that hold state: the failure queue (events nobody has judged yet)
// and any DynamoDB table.
func checkRetain(t *tmpl) []string {
	var out []string
	res := asMap(t.raw["Resources"])
	for _, id := range sortedKeys(res) {
		if id != failureQueue && str(get(res[id], "Type")) != "AWS::DynamoDB::Table" {
			continue
		}
		for _, attr := range []string{"DeletionPolicy", "UpdateReplacePolicy"} {
			if v := str(get(res[id], attr)); v != "Retain" {
				out = append(out, fmt.Sprintf("Resources.%s.%s is %q, want Retain: it holds state a deletion or replacement would lose", id, attr, v))
			}
		}
	}
	if _, ok := res[failureQueue]; !ok {
		out = append(out, fmt.Sprintf("Resources.%s: missing", failureQueue))
	}
	return out
}

// checkState requires the alert state table as package state reads and
// writes it, and the two functions wired to it:
//   - the table's key schema and attribute definitions are exactly
//     state.KeyAttribute (HASH, S) and state.FindingAttribute (RANGE, S),
//     and its TimeToLiveSpecification is enabled on state.TTLAttribute;
//   - on-demand billing (PAY_PER_REQUEST), point-in-time recovery and
//     encryption at rest (SSESpecification SSEEnabled) are on (Retain:
//     checkRetain);
//   - every function has STATE_TABLE: !Ref StateTable and REMIND_AFTER:
//     !Ref RemindAfter (a String parameter), and is allowed exactly
//     stateActions, on exactly the table's ARN (checkIAM refuses DynamoDB
//     actions on anything else).
func checkState(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	table := get(t.raw, "Resources", stateTable)
	where := "Resources." + stateTable
	if str(get(table, "Type")) != "AWS::DynamoDB::Table" {
		return []string{where + ": want an AWS::DynamoDB::Table (the alert state, STATE_TABLE)"}
	}
	if c := get(table, "Condition"); c != nil {
		bad("%s.Condition is %s: the state table is created by default, unconditionally", where, compact(c))
	}
	props := asMap(get(table, "Properties"))
	var keys, attrs []string
	for _, k := range anyList(props["KeySchema"]) {
		keys = append(keys, str(get(k, "AttributeName"))+" "+str(get(k, "KeyType")))
	}
	for _, a := range anyList(props["AttributeDefinitions"]) {
		attrs = append(attrs, str(get(a, "AttributeName"))+" "+str(get(a, "AttributeType")))
	}
	if want := []string{state.KeyAttribute + " HASH", state.FindingAttribute + " RANGE"}; !slices.Equal(keys, want) {
		bad("%s.Properties.KeySchema is %q, want %q (pkg/state/schema.go)", where, keys, want)
	}
	if want := []string{state.KeyAttribute + " S", state.FindingAttribute + " S"}; !slices.Equal(attrs, want) {
		bad("%s.Properties.AttributeDefinitions is %q, want %q (pkg/state/schema.go; no attribute that is not a key)", where, attrs, want)
	}
	if ttl := props["TimeToLiveSpecification"]; str(get(ttl, "AttributeName")) != state.TTLAttribute || get(ttl, "Enabled") != true {
		bad("%s.Properties.TimeToLiveSpecification is %s, want AttributeName %s, Enabled true", where, compact(ttl), state.TTLAttribute)
	}
	if v := str(props["BillingMode"]); v != "PAY_PER_REQUEST" {
		bad("%s.Properties.BillingMode is %q, want PAY_PER_REQUEST (on-demand: a burst of events is never throttled by provisioned capacity)", where, v)
	}
	if v := get(props, "PointInTimeRecoverySpecification", "PointInTimeRecoveryEnabled"); v != true {
		bad("%s.Properties.PointInTimeRecoverySpecification.PointInTimeRecoveryEnabled is %s, want true", where, compact(v))
	}
	if v := get(props, "SSESpecification", "SSEEnabled"); v != true {
		bad("%s.Properties.SSESpecification.SSEEnabled is %s, want true (encryption at rest with a KMS key)", where, compact(v))
	}
	if typ := str(get(t.raw, "Parameters", "RemindAfter", "Type")); typ != "String" {
		bad("Parameters.RemindAfter.Type is %q, want String (a duration such as 24h; 0 never reminds)", typ)
	}

	sts, _ := t.iamStatements()
	for _, id := range t.functions() {
		env := map[string]any{}
		for _, src := range []any{get(t.raw, "Globals", "Function"), get(t.raw, "Resources", id, "Properties")} {
			for k, v := range asMap(get(src, "Environment", "Variables")) {
				env[k] = v
			}
		}
		if r, _ := refName(env["STATE_TABLE"]); r != stateTable {
			bad("Resources.%s: environment variable STATE_TABLE is %s, want !Ref %s", id, compact(env["STATE_TABLE"]), stateTable)
		}
		if r, _ := refName(env["REMIND_AFTER"]); r != "RemindAfter" {
			bad("Resources.%s: environment variable REMIND_AFTER is %s, want !Ref RemindAfter", id, compact(env["REMIND_AFTER"]))
		}
		var got []string
		for _, st := range sts {
			if !strings.HasPrefix(st.where, "Resources."+id+".") || str(st.s["Effect"]) != "Allow" {
				continue
			}
			for _, a := range oneOrMany(st.s["Action"]) {
				if action := str(a); strings.HasPrefix(strings.ToLower(action), "dynamodb:") && !slices.Contains(got, action) {
					got = append(got, action)
				}
			}
		}
		out = append(out, sameSet("Resources."+id+" DynamoDB actions", got, stateActions)...)
	}
	return out
}

func isRef(v any, name string) bool {
	r, ok := refName(v)
	return ok && r == name
}

// checkIntegrations requires the Security Hub export and the event bus to
// be off by default and wired the same way in every function:
//   - parameter SecurityHub (on|off, default off) and EventBusArn (default
//     empty), conditions SecurityHubOn (SecurityHub is "on") and
//     HasEventBus (EventBusArn is not empty);
//   - every function has SECURITY_HUB: !Ref SecurityHub and EVENT_BUS_ARN:
//     !Ref EventBusArn, and one statement allowing
//     securityhub:BatchImportFindings and one allowing events:PutEvents,
//     each under its condition (checkIAM limits their resources).
func checkIntegrations(t *tmpl) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	params := asMap(t.raw["Parameters"])
	if p := asMap(params["SecurityHub"]); p == nil {
		bad("Parameters.SecurityHub: missing")
	} else {
		if d := p["Default"]; d != "off" {
			bad("Parameters.SecurityHub.Default is %s, want \"off\" (Security Hub charges per finding: on only when asked)", compact(d))
		}
		if v := strs(p["AllowedValues"]); !slices.Equal(v, []string{"on", "off"}) {
			bad("Parameters.SecurityHub.AllowedValues is %q, want [on off]", v)
		}
	}
	if p := asMap(params[eventBusArn]); p == nil {
		bad("Parameters.%s: missing", eventBusArn)
	} else if d, ok := p["Default"]; !ok || d != "" {
		bad("Parameters.%s.Default is %s, want \"\" (no bus)", eventBusArn, compact(d))
	}
	conds := asMap(t.raw["Conditions"])
	if c := conds[securityHubOn]; !equalJSON(c, map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "SecurityHub"}, "on"}}) {
		bad("Conditions.%s is %s, want !Equals [!Ref SecurityHub, \"on\"]", securityHubOn, compact(c))
	}
	if c := conds[hasEventBus]; !equalJSON(c, map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": eventBusArn}, ""}}}}) {
		bad("Conditions.%s is %s, want !Not [!Equals [!Ref %s, \"\"]]", hasEventBus, compact(c), eventBusArn)
	}
	sts, _ := t.iamStatements()
	for _, id := range t.functions() {
		env := map[string]any{}
		for _, src := range []any{get(t.raw, "Globals", "Function"), get(t.raw, "Resources", id, "Properties")} {
			maps.Copy(env, asMap(get(src, "Environment", "Variables")))
		}
		if !isRef(env["SECURITY_HUB"], "SecurityHub") {
			bad("Resources.%s: environment variable SECURITY_HUB is %s, want !Ref SecurityHub", id, compact(env["SECURITY_HUB"]))
		}
		if !isRef(env["EVENT_BUS_ARN"], eventBusArn) {
			bad("Resources.%s: environment variable EVENT_BUS_ARN is %s, want !Ref %s", id, compact(env["EVENT_BUS_ARN"]), eventBusArn)
		}
		count := map[string]int{}
		for _, st := range sts {
			if !strings.HasPrefix(st.where, "Resources."+id+".") || str(st.s["Effect"]) != "Allow" {
				continue
			}
			for _, a := range oneOrMany(st.s["Action"]) {
				count[strings.ToLower(str(a))]++
			}
		}
		for _, a := range []string{"securityhub:BatchImportFindings", "events:PutEvents"} {
			if n := count[strings.ToLower(a)]; n != 1 {
				bad("Resources.%s: %d statements allow %s, want 1 (under its condition)", id, n, a)
			}
		}
	}
	return out
}
