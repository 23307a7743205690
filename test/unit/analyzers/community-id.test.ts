import assert from 'node:assert/strict';
import { test } from 'node:test';
import { communityIdV1 } from '../../../analyzers/community-id.ts';

test('Community ID v1: published vectors, both directions', () => {
  // vectors published with the spec (README) and by Tenzir's community_id documentation
  assert.equal(
    communityIdV1('128.232.110.120', '66.35.250.204', 6, 34855, 80),
    '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
  );
  assert.equal(
    communityIdV1('66.35.250.204', '128.232.110.120', 6, 80, 34855),
    '1:LQU9qZlK+B5F3KDmev6m5PMibrg=',
  );
  assert.equal(communityIdV1('1.2.3.4', '43.3.132.3', 6, 4584, 3483), '1:koNcqhFRD5kb254ZrLsdv630jCM=');
  assert.equal(communityIdV1('1.2.3.4', '43.3.132.3', 17, null, null), '1:7TrrMeH98PrUKC0ySu3RNmpUr48=');
});

test('Community ID v1: ICMP echo request and reply share an id; one-way types do not reorder', () => {
  const req = communityIdV1('10.0.1.101', '10.0.1.102', 1, 8, 0);
  const rep = communityIdV1('10.0.1.102', '10.0.1.101', 1, 0, 0);
  assert.equal(req, rep);
  const v6req = communityIdV1('fd00:10:1::101', 'fd00:10:1::102', 58, 128, 0);
  assert.equal(v6req, communityIdV1('fd00:10:1::102', 'fd00:10:1::101', 58, 129, 0));
  // destination unreachable is one-way: the endpoints keep their order
  assert.notEqual(
    communityIdV1('10.0.0.2', '10.0.0.1', 1, 3, 1),
    communityIdV1('10.0.0.1', '10.0.0.2', 1, 3, 1),
  );
  assert.equal(communityIdV1('not-an-ip', '10.0.0.1', 6, 1, 2), null);
});
