import { openSqliteRecords } from '../../src/records/sqlite.js';
import { describePlatformRecords } from './records-contract.js';

describePlatformRecords('SQLite', async () => openSqliteRecords({ file: ':memory:' }));
