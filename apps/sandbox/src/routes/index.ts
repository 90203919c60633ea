import { getContact } from './contacts';
import { createExport, getExport } from './exports';
import { listReceived, receiveCallback, receiveTrigger } from './inbox';
import { createOrder, getOrder } from './orders';
import type { Route } from './route';

export type { Route, RouteContext } from './route';

export const routes: readonly Route[] = [getContact, createOrder, getOrder, createExport, getExport, receiveTrigger, receiveCallback, listReceived];
