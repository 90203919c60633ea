import { createDeal } from './create-deal';
import { getContact } from './get-contact';
import { logActivity } from './log-activity';
import { updateContact } from './update-contact';

export { HUBSPOT_API_VERSION } from './schemas';
export const hubspotTools = [getContact, updateContact, createDeal, logActivity];
