package devstack_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	snstypes "github.com/aws/aws-sdk-go-v2/service/sns/types"

	"github.com/fsxkms/fsxkms/internal/devstack"
)

// A test package starts the stack once in TestMain:
//
//	func TestMain(m *testing.M) {
//		os.Exit(devstack.Main(m, devstack.Options{Inventory: "testdata/inventory.json"}))
//	}
//
// Its tests then use SDK clients from config.LoadDefaultConfig unchanged.
func ExampleStart() {
	ctx := context.Background()
	s, err := devstack.Start(ctx, devstack.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop()

	// Point this process's SDK clients at the stack, as Main does.
	if err := s.Setenv(); err != nil {
		fmt.Println(err)
		return
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	c := kms.NewFromConfig(cfg)
	key, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := c.ListKeyPolicies(ctx, &kms.ListKeyPoliciesInput{KeyId: key.KeyMetadata.KeyId})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Region, aws.ToString(key.KeyMetadata.Arn)[:39], out.PolicyNames)
	// Output: us-east-1 arn:aws:kms:us-east-1:111122223333:key/ [default]
}

// A stack can subscribe SQS queues to its SNS topics; ReceiveMessages
// reads them, since the SDK's SQS client cannot talk to goaws.
func ExampleStack_ReceiveMessages() {
	ctx := context.Background()
	s, err := devstack.Start(ctx, devstack.Options{
		Subscriptions: []devstack.Subscription{
			{Topic: "alerts", Queue: "critical", Raw: true, FilterPolicy: `{"severity": ["CRITICAL"]}`},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Stop()
	// A client can also be pointed at one server without Setenv.
	c := sns.New(sns.Options{Region: s.Region, BaseEndpoint: aws.String(s.SNSEndpoint), Credentials: devstack.CredentialsFor(s.Account)})
	for _, severity := range []string{"INFO", "CRITICAL"} {
		_, err := c.Publish(ctx, &sns.PublishInput{
			TopicArn: aws.String("arn:aws:sns:us-east-1:111122223333:alerts"),
			Message:  aws.String(`{"severity":"` + severity + `"}`),
			MessageAttributes: map[string]snstypes.MessageAttributeValue{
				"severity": {DataType: aws.String("String"), StringValue: aws.String(severity)},
			},
		})
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	msgs, err := s.ReceiveMessages(ctx, "critical", 10)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range msgs {
		fmt.Println(m.Body, m.Attributes["severity"].StringValue)
	}
	// Output: {"severity":"CRITICAL"} CRITICAL
}
