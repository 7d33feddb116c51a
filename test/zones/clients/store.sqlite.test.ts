import { openSqliteRecords } from '../../../src/records/sqlite.js';
import { describeClientStore } from './store-contract.js';

describeClientStore('SQLite', async () => openSqliteRecords({ file: ':memory:' }));
