package kmsevent_test

import (
	"fmt"

	"github.com/fsxkms/fsxkms/pkg/kmsevent"
)

func ExampleDecode() {
	// A CloudTrail record of DisableKey, as EventBridge delivers it.
	raw := []byte(`{
	  "version": "0", "id": "0b6d1c2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
	  "detail-type": "AWS API Call via CloudTrail", "source": "aws.kms",
	  "account": "444455556666", "time": "2026-03-02T10:15:00Z", "region": "eu-west-1", "resources": [],
	  "detail": {
	    "eventVersion": "1.08",
	    "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::444455556666:user/storage-admin", "accountId": "444455556666"},
	    "eventTime": "2026-03-02T10:15:00Z", "eventSource": "kms.amazonaws.com", "eventName": "DisableKey",
	    "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.10", "userAgent": "aws-cli/2.27.1",
	    "requestParameters": {"keyId": "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b"}, "responseElements": null,
	    "eventID": "e7d00002-1a2b-4c3d-9e8f-7a6b5c4d3e2f", "eventType": "AwsApiCall", "recipientAccountId": "444455556666"
	  }
	}`)
	events, err := kmsevent.Decode(raw)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range events {
		fmt.Println(e.EventName, e.Relevance, e.KeyARNs[0])
		fmt.Println("by", e.Actor.ARN)
		fmt.Println(e.Reason)
	}
	// Output:
	// DisableKey breaking arn:aws:kms:eu-west-1:444455556666:key/6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b
	// by arn:aws:iam::444455556666:user/storage-admin
	// a disabled key cannot be used; FSx loses access to the data it protects
}

func ExampleRelevantEventNames() {
	names := kmsevent.RelevantEventNames()
	fmt.Println(len(names) > 20, names[0])
	// Output: true CancelKeyDeletion
}

func ExampleNativeDetailTypes() {
	for _, dt := range kmsevent.NativeDetailTypes() {
		fmt.Println(dt)
	}
	// Output:
	// KMS CMK Deletion
	// KMS CMK Rotation
	// KMS Imported Key Material Expiration
}
