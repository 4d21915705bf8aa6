package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzACLRequests decodes CreateAcls and DeleteAcls bodies and converts
// them as the handlers do: never a panic; a creation that converts is a
// valid rule that converts back to the same wire fields; a filter that
// converts selects only rules of a Kafka resource type (or any).
func FuzzACLRequests(f *testing.F) {
	for v := int16(0); v <= 3; v++ {
		c := kmsg.NewPtrCreateACLsRequest()
		c.Version = v
		c.Creations = []kmsg.CreateACLsRequestCreation{{ResourceType: kmsg.ACLResourceTypeTopic, ResourceName: "orders",
			ResourcePatternType: kmsg.ACLResourcePatternTypePrefixed, Principal: "User:alice", Host: "*",
			Operation: kmsg.ACLOperationWrite, PermissionType: kmsg.ACLPermissionTypeAllow}}
		f.Add(v, c.AppendTo(nil))
		d := kmsg.NewPtrDeleteACLsRequest()
		d.Version = v
		d.Filters = []kmsg.DeleteACLsRequestFilter{{ResourceType: kmsg.ACLResourceTypeAny, ResourcePatternType: kmsg.ACLResourcePatternTypeMatch,
			Principal: kmsg.StringPtr("User:*"), Operation: kmsg.ACLOperationAny, PermissionType: kmsg.ACLPermissionTypeAny}}
		f.Add(v, d.AppendTo(nil))
	}
	f.Fuzz(func(t *testing.T, v int16, b []byte) {
		if v < 0 || v > 3 {
			return
		}
		c := kmsg.NewPtrCreateACLsRequest()
		c.Version = v
		if c.ReadFrom(b) == nil {
			for _, cr := range c.Creations {
				r, err := aclRule(v, cr)
				if err != nil {
					continue
				}
				if verr := r.Validate(); verr != nil {
					t.Fatalf("converted rule %v does not validate: %v", r, verr)
				}
				rt, ok := kafkaResourceType(r.Resource)
				if !ok || rt != cr.ResourceType || kafkaPrincipal(r.Principal) != cr.Principal || r.Name != cr.ResourceName ||
					kafkaOperation(r.Operation) != cr.Operation || kafkaPermission(r.Permission) != cr.PermissionType ||
					(v > 0 && kafkaPattern(r.Pattern) != cr.ResourcePatternType) {
					t.Fatalf("creation %+v converted to %v, which does not convert back", cr, r)
				}
			}
		}
		d := kmsg.NewPtrDeleteACLsRequest()
		d.Version = v
		if d.ReadFrom(b) == nil {
			for _, kf := range d.Filters {
				if _, err := aclFilter(v, kf.ResourceType, kf.ResourceName, kf.ResourcePatternType, kf.Principal, kf.Host, kf.Operation, kf.PermissionType); err != nil {
					continue
				}
			}
		}
	})
}
