import { openTestRecords } from '../support/records.js';
import { describeHtml5AppStore } from './store-contract.js';

describeHtml5AppStore('sqlite', openTestRecords);
