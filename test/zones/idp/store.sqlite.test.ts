import { openSqliteRecords } from '../../../src/records/sqlite.js';
import { describeIdentityProviderStore } from './store-contract.js';

describeIdentityProviderStore('SQLite', async () => openSqliteRecords({ file: ':memory:' }));
