import { getContact } from './contacts';
import { createOrder, getOrder } from './orders';
import type { Route } from './route';

export type { Route, RouteContext } from './route';

export const routes: readonly Route[] = [getContact, createOrder, getOrder];
