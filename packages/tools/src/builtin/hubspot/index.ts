import { pairTools } from '../../define-tool';
import { createDeal } from './create-deal';
import { hubspotDescriptors } from './descriptors';
import { getContact } from './get-contact';
import { logActivity } from './log-activity';
import { updateContact } from './update-contact';

export { HUBSPOT_API_VERSION } from './schemas';
export const hubspotTools = pairTools(hubspotDescriptors, { getContact, updateContact, createDeal, logActivity });
