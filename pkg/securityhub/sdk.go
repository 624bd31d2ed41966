package securityhub

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/securityhub/types"
)

// sdk is f as the SDK sends it. Every attribute of Finding is carried: a
// test compares what the devstack's Security Hub received with f's JSON.
func (f Finding) sdk() types.AwsSecurityFinding {
	x := types.AwsSecurityFinding{
		SchemaVersion:   aws.String(f.SchemaVersion),
		Id:              aws.String(f.ID),
		ProductArn:      aws.String(f.ProductArn),
		ProductName:     aws.String(f.ProductName),
		CompanyName:     aws.String(f.CompanyName),
		GeneratorId:     aws.String(f.GeneratorID),
		AwsAccountId:    aws.String(f.AwsAccountID),
		Region:          aws.String(f.Region),
		Types:           f.Types,
		CreatedAt:       aws.String(f.CreatedAt),
		UpdatedAt:       aws.String(f.UpdatedAt),
		FirstObservedAt: aws.String(f.FirstObservedAt),
		LastObservedAt:  aws.String(f.LastObservedAt),
		Severity:        &types.Severity{Label: types.SeverityLabel(f.Severity.Label), Original: aws.String(f.Severity.Original)},
		Title:           aws.String(f.Title),
		Description:     aws.String(f.Description),
		ProductFields:   f.ProductFields,
		Compliance:      &types.Compliance{Status: types.ComplianceStatus(f.Compliance.Status)},
		RecordState:     types.RecordState(f.RecordState),
		FindingProviderFields: &types.FindingProviderFields{
			Severity: &types.FindingProviderSeverity{Label: types.SeverityLabel(f.FindingProviderFields.Severity.Label),
				Original: aws.String(f.FindingProviderFields.Severity.Original)},
			Types: f.FindingProviderFields.Types,
		},
	}
	if r := f.Remediation; r != nil {
		x.Remediation = &types.Remediation{Recommendation: &types.Recommendation{Text: aws.String(r.Recommendation.Text), Url: aws.String(r.Recommendation.URL)}}
	}
	if f.Workflow != nil {
		x.Workflow = &types.Workflow{Status: types.WorkflowStatus(f.Workflow.Status)}
	}
	for _, r := range f.Resources {
		res := types.Resource{Type: aws.String(r.Type), Id: aws.String(r.ID), Partition: types.Partition(r.Partition)}
		if r.Region != "" {
			res.Region = aws.String(r.Region)
		}
		if d := r.Details; d != nil {
			res.Details = &types.ResourceDetails{Other: d.Other}
			if k := d.AwsKmsKey; k != nil {
				res.Details.AwsKmsKey = &types.AwsKmsKeyDetails{}
				for _, p := range []struct {
					dst **string
					v   string
				}{{&res.Details.AwsKmsKey.AWSAccountId, k.AWSAccountID}, {&res.Details.AwsKmsKey.KeyId, k.KeyID},
					{&res.Details.AwsKmsKey.KeyManager, k.KeyManager}, {&res.Details.AwsKmsKey.KeyState, k.KeyState},
					{&res.Details.AwsKmsKey.Origin, k.Origin}} {
					if p.v != "" {
						*p.dst = aws.String(p.v)
					}
				}
			}
		}
		x.Resources = append(x.Resources, res)
	}
	return x
}
