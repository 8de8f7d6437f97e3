import assert from 'node:assert/strict';
import type { HubLookup, HubResolution } from '../../server/src/core/models/hub';

/** The answer of a lookup that must have gone to the Hub (status 'pending'). */
export async function settle(lookup: HubLookup): Promise<HubResolution> {
  assert.equal(lookup.status, 'pending', JSON.stringify(lookup));
  return (lookup as Extract<HubLookup, { status: 'pending' }>).promise;
}
